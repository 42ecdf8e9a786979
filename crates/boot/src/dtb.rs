//! Device tree (AArch64): memory, reserved regions, command line, devices. (To be written.)
