"""Configuration: defaults that start anywhere, TOML and environment, one clear line per bad key."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.config import Config, ConfigError, config_from_mapping, load_config


def test_defaults_start_on_a_fresh_machine(tmp_path):
    config = load_config(env={})
    assert isinstance(config, Config)
    assert config.practice.pin_lifetime_days == 30 and config.practice.idle_lock_minutes == 2
    assert config.smtp.security == "starttls" and config.printer.layout == "letter"


def test_toml_then_environment(tmp_path):
    file = tmp_path / "kiosk.toml"
    file.write_text(
        'database = "/srv/kiosk.store.db"\n[practice]\nname = "Oak Pediatrics"\npin_lifetime_days = 14\n'
        '[smtp]\nhost = "mail.example.org"\nport = 465\nsecurity = "ssl"\n[printer]\nname = "front"\n'
        'layout = "receipt"\n'
    )
    config = load_config(file, env={"KIOSK_PIN_LIFETIME_DAYS": "21", "KIOSK_PRINTER": "back"})
    assert config.database == "/srv/kiosk.store.db" and config.practice.name == "Oak Pediatrics"
    assert config.practice.pin_lifetime_days == 21  # environment wins
    assert (config.smtp.host, config.smtp.port, config.smtp.security) == (
        "mail.example.org",
        465,
        "ssl",
    )
    assert (config.printer.name, config.printer.layout) == ("back", "receipt")


@pytest.mark.parametrize(
    "toml, key",
    [
        ('[practice]\npin_lifetime_days = "soon"\n', "practice.pin_lifetime_days"),
        ("[practice]\npin_lifetime_days = 0\n", "practice.pin_lifetime_days"),
        ('[practice]\nportal_url = "portal"\n', "practice.portal_url"),
        ("[practice]\nidle_lock_minutes = 600\n", "practice.idle_lock_minutes"),
        ('[smtp]\nsecurity = "tls1.3"\n', "smtp.security"),
        ("[smtp]\nport = 70000\n", "smtp.port"),
        ('[printer]\nlayout = "legal"\n', "printer.layout"),
        ("[printer]\ncolour = true\n", "printer.colour"),
        ("practise = 1\n", "practise"),
        ("smtp = 3\n", "smtp"),
        ("[practice\n", "file"),
        # Operations: every value is type- and range-checked at load
        ("[smtp]\ntimeout_seconds = -1\n", "smtp.timeout_seconds"),
        ("[smtp]\ntimeout_seconds = 0\n", "smtp.timeout_seconds"),
        ("[smtp]\ntimeout_seconds = nan\n", "smtp.timeout_seconds"),
        ("[smtp]\ntimeout_seconds = inf\n", "smtp.timeout_seconds"),
        ('[smtp]\ntimeout_seconds = "soon"\n', "smtp.timeout_seconds"),
        ("[practice]\nidle_lock_minutes = nan\n", "practice.idle_lock_minutes"),
        ("[practice]\npin_lifetime_days = 30.5\n", "practice.pin_lifetime_days"),
        ("[practice]\npin_lifetime_days = true\n", "practice.pin_lifetime_days"),
        ("[smtp]\nport = 0\n", "smtp.port"),
        ("database = 5\n", "database"),
        ('database = ["a"]\n', "database"),
        ('database = "mysql://db/kiosk"\n', "database"),
        ("pin_key_file = 7\n", "pin_key_file"),
        ("log_file = false\n", "log_file"),
        ("training = 1\n", "training"),
        ('training = "maybe"\n', "training"),
        ("[practice]\nname = 12\n", "practice.name"),
        ('[practice]\nname = "  "\n', "practice.name"),
        ("[smtp]\npassword = 12345\n", "smtp.password"),
        ('[smtp]\nusername = "desk\\r\\nRCPT TO:<x@example.org>"\n', "smtp.username"),
        ('[smtp]\nsender = "not an address"\n', "smtp.sender"),
        ('[smtp]\nhost = "mail example"\n', "smtp.host"),
        ('[printer]\nname = "front desk"\n', "printer.name"),
        ("[printer]\nlayout = 4\n", "printer.layout"),
    ],
)
def test_a_bad_value_names_its_key(tmp_path, toml, key):
    file = tmp_path / "kiosk.toml"
    file.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_config(file, env={})
    assert caught.value.key == key
    assert str(caught.value).startswith(f"config {key}:") and "\n" not in str(caught.value)


def test_a_bad_environment_value_names_its_key():
    with pytest.raises(ConfigError, match="config smtp.port: must be a whole number"):
        load_config(env={"KIOSK_SMTP_PORT": "twenty-five"})


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})


def test_smtp_ca_file_from_toml_or_environment_must_be_a_file(tmp_path):
    ca = tmp_path / "practice-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    file = tmp_path / "kiosk.toml"
    file.write_text(f'[smtp]\nca_file = "{ca}"\n')
    assert load_config(file, env={}).smtp.ca_file == str(ca)
    assert load_config(env={"KIOSK_SMTP_CA_FILE": str(ca)}).smtp.ca_file == str(ca)
    assert (
        load_config(env={"KIOSK_SMTP_CA_FILE": ""}).smtp.ca_file == ""
    )  # empty: the system's trust store
    with pytest.raises(ConfigError) as caught:
        load_config(env={"KIOSK_SMTP_CA_FILE": str(tmp_path / "missing.pem")})
    assert caught.value.key == "smtp.ca_file" and "missing.pem is not a file" in str(caught.value)


@given(st.text(max_size=12))
def test_any_lifetime_text_is_a_number_or_a_clear_error(text):
    try:
        config = load_config(env={"KIOSK_PIN_LIFETIME_DAYS": text})
    except ConfigError as error:
        assert error.key == "practice.pin_lifetime_days"
    else:
        assert config.practice.pin_lifetime_days in range(1, 366)


# -- Operations: numbers are finite and in range, paths are what they say ----------------------
@pytest.mark.parametrize(
    "variable, text",
    [
        ("KIOSK_SMTP_TIMEOUT_SECONDS", "-1"),
        ("KIOSK_SMTP_TIMEOUT_SECONDS", "nan"),
        ("KIOSK_IDLE_LOCK_MINUTES", "inf"),
        ("KIOSK_SMTP_PORT", "25.5"),
    ],
)
def test_o1_config_environment_numbers_are_finite_and_in_range(variable, text):
    with pytest.raises(ConfigError):
        load_config(env={variable: text})


def test_o1_config_a_database_or_log_path_that_is_a_folder_is_named(tmp_path):
    with pytest.raises(ConfigError, match="config database: .* is a folder"):
        load_config(env={"KIOSK_DB": str(tmp_path)})
    with pytest.raises(ConfigError, match="config log_file: .* is a folder"):
        load_config(env={"KIOSK_LOG_FILE": str(tmp_path)})
    log = tmp_path / "desk-errors.log"
    assert load_config(env={"KIOSK_LOG_FILE": str(log)}).error_log == log


def test_o1_every_number_setting_declares_its_range():
    """A new number setting without a range would accept -1, 0 or a huge value unchecked."""
    from dataclasses import fields

    from kiosk.config import PracticeConfig, PrinterConfig, SmtpConfig

    for section in (Config, PracticeConfig, SmtpConfig, PrinterConfig):
        for each in fields(section):
            if each.type in {"int", "float"}:
                assert "range" in each.metadata, f"{section.__name__}.{each.name} has no range"


@given(
    st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.text(max_size=8))
)
def test_o1_any_timeout_is_a_finite_number_in_range_or_a_clear_error(value):
    try:
        config = config_from_mapping({"smtp": {"timeout_seconds": value}})
    except ConfigError as error:
        assert error.key == "smtp.timeout_seconds" and "\n" not in str(error)
    else:
        assert config.smtp.timeout_seconds >= 1 and config.smtp.timeout_seconds <= 600
