"""The Textual UI: one module per step of the workflow. No Peewee here: screens call kiosk/."""
