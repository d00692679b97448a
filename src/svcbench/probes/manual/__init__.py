"""Manual channels: phone calls timed by a person, returns and deliveries logged by date."""
