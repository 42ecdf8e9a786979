//! QEMU fw_cfg `etc/e820` memory maps (x86_64). (To be written.)
