//! Translation of Limine protocol responses into `BootInfo`. (To be written.)
