"""Learning unknown devices in the claw: the model's draft, the owner's approval, stored adapter versions."""
