"""Router: recipients, data-protection views, deliveries and the audit chain."""
