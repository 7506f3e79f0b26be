"""The simulated home: devices that speak the real protocols on loopback."""
