"""Transistor-level cross-checks with ngspice and the GF180MCU 180 nm models."""
