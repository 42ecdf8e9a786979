//! The Limine protocol: the requests (in the `.requests` section, between the start and
//! end markers) and the Rust entry the loader reaches through the entry-point request.
//! Base revision 2 (what Limine 8.x answers); the command line comes from the executable
//! file's string because 8.x does not answer the command-line request.

use limine::BaseRevision;
use limine::request::{
    EntryPointRequest, ExecutableAddressRequest, ExecutableFileRequest, HhdmRequest, MemoryMapRequest,
    MpRequest, RequestsEndMarker, RequestsStartMarker, RsdpRequest,
};
use pecan_boot::limine::{Answers, BASE_REVISION, ExecutableAddress};

#[used]
#[unsafe(link_section = ".requests_start")]
static REQUESTS_START: RequestsStartMarker = RequestsStartMarker::new();

#[used]
#[unsafe(link_section = ".requests")]
static BASE: BaseRevision = BaseRevision::with_revision(BASE_REVISION);

#[used]
#[unsafe(link_section = ".requests")]
static HHDM: HhdmRequest = HhdmRequest::new();

#[used]
#[unsafe(link_section = ".requests")]
static MEMORY_MAP: MemoryMapRequest = MemoryMapRequest::new();

#[used]
#[unsafe(link_section = ".requests")]
static EXECUTABLE_ADDRESS: ExecutableAddressRequest = ExecutableAddressRequest::new();

#[used]
#[unsafe(link_section = ".requests")]
static EXECUTABLE_FILE: ExecutableFileRequest = ExecutableFileRequest::new();

#[used]
#[unsafe(link_section = ".requests")]
static RSDP: RsdpRequest = RsdpRequest::new();

#[used]
#[unsafe(link_section = ".requests")]
static MP: MpRequest = MpRequest::new();

#[used]
#[unsafe(link_section = ".requests")]
static ENTRY: EntryPointRequest = EntryPointRequest::new().with_entry_point(pecan_x86_64::boot::limine_entry);

#[used]
#[unsafe(link_section = ".requests_end")]
static REQUESTS_END: RequestsEndMarker = RequestsEndMarker::new();

/// The Rust entry from `limine_entry`: copies the answers and boots.
#[unsafe(no_mangle)]
extern "C" fn pecan_limine_main() -> ! {
    let answers = Answers {
        revision_supported: BASE.is_supported(),
        loaded_revision: BASE.loaded_revision(),
        hhdm_offset: HHDM.get_response().map(|r| r.offset()),
        memory_map: MEMORY_MAP.get_response().map(|r| r.entries()),
        executable: EXECUTABLE_ADDRESS
            .get_response()
            .map(|r| ExecutableAddress { physical_base: r.physical_base(), virtual_base: r.virtual_base() }),
        rsdp: RSDP.get_response().map(|r| r.address() as u64),
        dtb: None,
        cpu_ids: {
            let mut l = pecan_boot::CpuList::new();
            if let Some(r) = MP.get_response() {
                l.push(r.bsp_lapic_id() as u64);
                r.cpus().iter().for_each(|c| l.push(c.lapic_id as u64));
            }
            l
        },
        cmdline: EXECUTABLE_FILE.get_response().map(|r| r.file().string().to_bytes()),
    };
    let (m, info) = pecan_x86_64::boot::from_limine(&answers);
    crate::run(m, &info)
}
