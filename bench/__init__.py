"""Measurements that print figures; not tests."""
