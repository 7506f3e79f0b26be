"""Discovery as a service of the claw: scans on the configured interfaces, the registry, ignore list, chat."""
