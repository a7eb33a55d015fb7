"""The portal side over HTTP: the redemption API, the parents' page and the API tokens."""
