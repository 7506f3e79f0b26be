"""The root of every error the `devices` package raises; drivers translate library errors into these."""


class DeviceError(Exception):
    """Base class for device errors; the message is safe to show to the owner."""


class DeviceNotFound(DeviceError):
    """No device matches the given id or name."""


class DeviceUnavailable(DeviceError):
    """The device could not be reached (refused, unreachable, protocol error)."""


class DeviceOutcomeUnknown(DeviceUnavailable):
    """The request may have reached the device (it timed out, or the connection broke off after sending):
    a command may still take effect, so it is neither done nor failed until the state says which."""


class DeviceTimeout(DeviceOutcomeUnknown):
    """The device did not answer in time."""


class UnsupportedCommand(DeviceError):
    """The device has no capability for this command."""


class InvalidArgument(DeviceError):
    """A command argument is missing, of the wrong type or out of range."""


class AdapterSpecError(DeviceError):
    """A declarative adapter spec is malformed or fails its schema."""


class CameraUnavailable(DeviceUnavailable):
    """A camera gave no picture: it refused, timed out, ended its stream or sent something that is not one."""
