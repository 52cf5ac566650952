"""Payment providers that need an SDK (outside core, which sees only the PaymentProvider port)."""
