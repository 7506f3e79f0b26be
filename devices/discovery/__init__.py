"""LAN discovery: mDNS, SSDP and HTTP fingerprint probes pinned to given interfaces, matched to adapters."""
