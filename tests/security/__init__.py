"""Security checks, one module per hardened behaviour, on both tiers where storage takes part."""
