"""Running a practice: terminals, backup and restore, the doctor, training and demo data."""
