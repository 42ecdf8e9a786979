//! The Limine path: the requests (in the image, where the loader finds them) and the
//! bring-up under Limine's page tables, which the kernel keeps (its HHDM becomes the
//! direct map; the device window is added to them).
//!
//! Limine enters `limine_entry` (`entry.S`, named by the entry-point request) at EL1
//! with the MMU on; the device tree comes from the DTB request, the memory map, HHDM,
//! image address, CPU count and command line from the other requests, translated by
//! `pecan_boot::limine`.

use limine::BaseRevision;
use limine::request::{
    DeviceTreeBlobRequest, EntryPointRequest, ExecutableAddressRequest, ExecutableFileRequest, HhdmRequest,
    MemoryMapRequest, MpRequest, RequestsEndMarker, RequestsStartMarker,
};
use pecan_boot::limine::{Answers, ExecutableAddress, translate};
use pecan_boot::{BootError, BootInfo, dtb};

use crate::boot::Board;
use crate::layout::KERNEL_BASE;
use crate::machine::Aarch64;

unsafe extern "C" {
    /// `entry.S`: sets up the boot stack and vectors, then calls `pecan_aarch64_boot_limine`.
    safe fn limine_entry() -> !;
}

#[used]
#[unsafe(link_section = ".limine_requests_start")]
static START: RequestsStartMarker = RequestsStartMarker::new();
#[used]
#[unsafe(link_section = ".limine_requests")]
static BASE_REVISION: BaseRevision = BaseRevision::with_revision(pecan_boot::limine::BASE_REVISION);
#[used]
#[unsafe(link_section = ".limine_requests")]
static HHDM: HhdmRequest = HhdmRequest::new();
#[used]
#[unsafe(link_section = ".limine_requests")]
static MEMORY_MAP: MemoryMapRequest = MemoryMapRequest::new();
#[used]
#[unsafe(link_section = ".limine_requests")]
static EXECUTABLE_ADDRESS: ExecutableAddressRequest = ExecutableAddressRequest::new();
#[used]
#[unsafe(link_section = ".limine_requests")]
static EXECUTABLE_FILE: ExecutableFileRequest = ExecutableFileRequest::new();
#[used]
#[unsafe(link_section = ".limine_requests")]
static DTB: DeviceTreeBlobRequest = DeviceTreeBlobRequest::new();
#[used]
#[unsafe(link_section = ".limine_requests")]
static MP: MpRequest = MpRequest::new();
#[used]
#[unsafe(link_section = ".limine_requests")]
static ENTRY: EntryPointRequest = EntryPointRequest::new().with_entry_point(limine_entry);
#[used]
#[unsafe(link_section = ".limine_requests_end")]
static END: RequestsEndMarker = RequestsEndMarker::new();

/// Brings the machine up under Limine. Returns the machine and the boot information,
/// interrupts masked.
pub fn from_limine(board: &Board) -> (Aarch64, BootInfo) {
    let answers = Answers {
        revision_supported: BASE_REVISION.is_supported(),
        loaded_revision: BASE_REVISION.loaded_revision(),
        hhdm_offset: HHDM.get_response().map(|r| r.offset()),
        memory_map: MEMORY_MAP.get_response().map(|r| r.entries()),
        executable: EXECUTABLE_ADDRESS
            .get_response()
            .map(|r| ExecutableAddress { physical_base: r.physical_base(), virtual_base: r.virtual_base() }),
        rsdp: None,
        dtb: DTB.get_response().map(|r| r.dtb_ptr() as u64),
        cpu_ids: {
            let mut l = pecan_boot::CpuList::new();
            if let Some(r) = MP.get_response() {
                l.push(r.bsp_mpidr());
                r.cpus().iter().for_each(|c| l.push(c.mpidr));
            }
            l
        },
        cmdline: EXECUTABLE_FILE.get_response().map(|r| r.file().string().to_bytes()),
    };
    let boot = match translate(&answers) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    if boot.executable.virtual_base != KERNEL_BASE {
        panic!("Limine loaded the kernel at {:#x}, not its link address", boot.executable.virtual_base);
    }
    crate::physmem::set_offset(boot.hhdm_offset);
    let image_pa = boot.executable.physical_base;
    crate::boot::set_image_pa(image_pa);
    // SAFETY: once, on the boot CPU, before anything reads per-CPU data.
    unsafe { crate::percpu::init(0, crate::boot::boot_stack_top()) };
    let Some(dtb_pa) = boot.info.dtb else { panic!("{} (no device-tree response)", BootError::BadDtb) };
    let dtb_va = boot.hhdm_offset + dtb_pa;
    // SAFETY: the HHDM maps all memory the loader reports, the device tree included.
    let parsed =
        unsafe { crate::boot::dtb_bytes(dtb_va, dtb_pa) }.and_then(|b| Ok((b.len(), dtb::parse(b, dtb_pa)?)));
    let (dtb_size, devices) = match parsed {
        Ok(p) => p,
        Err(e) => panic!("{e} (device tree at physical {dtb_pa:#x})"),
    };
    crate::boot::start_console(&mut crate::physmem::PhysMap, &devices, board);
    crate::boot::finish(board, &devices, dtb_va, dtb_size, image_pa, boot.info, false)
}
