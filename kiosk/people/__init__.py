"""Staff, patients and caregivers: sign-in, search, the account page, the family, contacts."""
