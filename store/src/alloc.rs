//! The allocator every Ferrodyn binary runs on: mimalloc, asked for a plain
//! block whenever the alignment allows one.
//!
//! mimalloc's aligned entry point, which a `GlobalAlloc` that passes every
//! layout's alignment along would call for all allocations, keeps its fast
//! path for small blocks only. A block over its small-object limit (1 KiB)
//! whose size is not a power of two goes through its generic path and is
//! over-allocated and aligned by hand, even when the alignment asked for is
//! 1 or 8. Request and answer bodies, encoded items and read buffers are
//! mostly such blocks. Every mimalloc block is aligned to 8 bytes at least
//! (blocks are whole words, and a page's first block is aligned to 16), so
//! alignments up to 8 take `mi_malloc` and larger ones the aligned calls.
//!
//! `unsafe` is allowed in this module only for the `GlobalAlloc` contract
//! and the calls into mimalloc that implement it.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment every block `mi_malloc` returns has.
const PLAIN_ALIGN: usize = 8;

/// mimalloc as the global allocator (`#[global_allocator]`).
pub struct Allocator;

// SAFETY: each method forwards to the mimalloc call with the same contract
// (a block of at least the size asked, aligned as asked, or null), and
// `mi_malloc` is chosen only where its alignment meets the layout's.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= PLAIN_ALIGN {
            mi::mi_malloc(layout.size()).cast()
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= PLAIN_ALIGN {
            mi::mi_zalloc(layout.size()).cast()
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr.cast::<c_void>());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= PLAIN_ALIGN {
            mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
        } else {
            mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks of every size class up to a few pages, at every alignment up
    /// to 4 KiB: each is aligned as asked, holds what was written, and
    /// keeps it across a realloc.
    #[test]
    fn blocks_are_aligned_as_asked_and_keep_their_bytes() {
        let a = Allocator;
        let sizes = (1..=64)
            .chain((65..=4096).step_by(29))
            .chain([1023, 1024, 1025, 1500, 2100, 8191, 70_000]);
        for size in sizes {
            for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
                let Ok(layout) = Layout::from_size_align(size, align) else {
                    continue;
                };
                // SAFETY: the layout's size is not zero; the block is
                // written within its size, reallocated with the layout it
                // was allocated with and freed once.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    std::ptr::write_bytes(p, 0xA5, size);
                    let q = a.realloc(p, layout, size * 2);
                    assert!(!q.is_null());
                    assert_eq!(q as usize % align, 0, "realloc {size} align {align}");
                    assert!(std::slice::from_raw_parts(q, size)
                        .iter()
                        .all(|b| *b == 0xA5));
                    let grown = Layout::from_size_align(size * 2, align).expect("layout");
                    a.dealloc(q, grown);
                    let z = a.alloc_zeroed(layout);
                    assert!(!z.is_null());
                    assert_eq!(z as usize % align, 0, "zeroed {size} align {align}");
                    assert!(std::slice::from_raw_parts(z, size).iter().all(|b| *b == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
