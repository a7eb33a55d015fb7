"""Configuration: defaults that start anywhere, TOML and environment, one clear line per bad key."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.config import Config, ConfigError, load_config


def test_defaults_start_on_a_fresh_machine(tmp_path):
    config = load_config(env={})
    assert isinstance(config, Config)
    assert config.practice.pin_lifetime_days == 30 and config.practice.idle_lock_minutes == 2
    assert config.smtp.security == "starttls" and config.printer.layout == "letter"


def test_toml_then_environment(tmp_path):
    file = tmp_path / "kiosk.toml"
    file.write_text('database = "/srv/kiosk.db"\n[practice]\nname = "Oak Pediatrics"\npin_lifetime_days = 14\n'
                    '[smtp]\nhost = "mail.example.org"\nport = 465\nsecurity = "ssl"\n[printer]\nname = "front"\n'
                    'layout = "receipt"\n')
    config = load_config(file, env={"KIOSK_PIN_LIFETIME_DAYS": "21", "KIOSK_PRINTER": "back"})
    assert config.database == "/srv/kiosk.db" and config.practice.name == "Oak Pediatrics"
    assert config.practice.pin_lifetime_days == 21  # environment wins
    assert (config.smtp.host, config.smtp.port, config.smtp.security) == ("mail.example.org", 465, "ssl")
    assert (config.printer.name, config.printer.layout) == ("back", "receipt")


@pytest.mark.parametrize("toml, key", [
    ("[practice]\npin_lifetime_days = \"soon\"\n", "practice.pin_lifetime_days"),
    ("[practice]\npin_lifetime_days = 0\n", "practice.pin_lifetime_days"),
    ("[practice]\nportal_url = \"portal\"\n", "practice.portal_url"),
    ("[practice]\nidle_lock_minutes = 600\n", "practice.idle_lock_minutes"),
    ("[smtp]\nsecurity = \"tls1.3\"\n", "smtp.security"),
    ("[smtp]\nport = 70000\n", "smtp.port"),
    ("[printer]\nlayout = \"legal\"\n", "printer.layout"),
    ("[printer]\ncolour = true\n", "printer.colour"),
    ("practise = 1\n", "practise"),
    ("smtp = 3\n", "smtp"),
    ("[practice\n", "file"),
])
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
    assert load_config(env={"KIOSK_SMTP_CA_FILE": ""}).smtp.ca_file == ""  # empty: the system's trust store
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
