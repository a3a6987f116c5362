"""Drivers of external simulators (optional extra 'validate'): SCALE-Sim and ZigZag."""
