//! The `broker` binary's global allocator: mimalloc, asked the way the
//! standard library asks the C allocator.
//!
//! The `mimalloc` crate hands every request to `mi_malloc_aligned`, even
//! those whose alignment any `malloc` block already has. mimalloc 3 serves
//! such a request from its free list only when the list happens to be
//! non-empty; otherwise it over-allocates from a larger size class whenever
//! the size is not a power of two (a vector of ten 32-byte values, for
//! example), so the exact size class never gets a page of its own and every
//! later request takes the slow path again. Decoding a table of sets spent a
//! tenth of its time there (docs/performance.md, issue 18, sixth step).
//!
//! Requests with an alignment that `malloc` guarantees go to `mi_malloc`
//! here; the others keep going to the aligned functions.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc,
    mi_zalloc_aligned,
};

/// The alignment every `malloc` block of at least that many bytes has: the
/// alignment of `max_align_t` (16 on 64-bit targets, 8 on most 32-bit ones),
/// as the standard library's `System` allocator assumes for the C allocator.
/// mimalloc, a conforming `malloc`, rounds its size classes so that this
/// holds (blocks of 16 bytes or more are 16-aligned on 64-bit targets).
const MIN_ALIGN: usize = if cfg!(target_pointer_width = "64") {
    16
} else {
    8
};

/// Whether `malloc(size)` already returns memory aligned to `align`: a block
/// of `size` bytes is aligned to `MIN_ALIGN`, or, when smaller than that, to
/// at least the largest power of two not above `size` (C's rule that a
/// block is aligned for every object that fits in it). So `align` up to
/// both `MIN_ALIGN` and `size` is met.
#[inline(always)]
fn malloc_aligns(align: usize, size: usize) -> bool {
    align <= MIN_ALIGN && align <= size
}

/// mimalloc as the global allocator (see the module documentation).
pub(crate) struct MiMalloc;

// SAFETY: every function returns memory from mimalloc that satisfies the
// requested layout or null: `malloc_aligns` sends only alignments that
// `mi_malloc`/`mi_zalloc`/`mi_realloc` blocks of that size have to the
// unaligned functions (see `MIN_ALIGN`), and all others to the aligned
// functions with the layout's alignment. Blocks from either family are freed
// by `mi_free`, and resized by either family, as mimalloc documents; the
// aligned `realloc` keeps the alignment. The test module below checks the
// alignment, the contents across `realloc`, and zeroing, for every
// alignment up to 64 and sizes around each size class boundary.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: FFI calls with a size and a power-of-two alignment; null
        // on failure is what `GlobalAlloc::alloc` returns too.
        unsafe {
            if malloc_aligns(layout.align(), layout.size()) {
                mi_malloc(layout.size()).cast()
            } else {
                mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`; both functions return zeroed memory.
        unsafe {
            if malloc_aligns(layout.align(), layout.size()) {
                mi_zalloc(layout.size()).cast()
            } else {
                mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller passes a block this allocator returned, which
        // came from mimalloc; `mi_free` frees blocks of every alignment.
        unsafe { mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` is a live mimalloc block (caller's contract); the new
        // block has `layout.align()` by the same rule as in `alloc`, and
        // keeps the first `min(old, new)` bytes; on failure the old block is
        // left alone and null returned, as `GlobalAlloc::realloc` requires.
        unsafe {
            if malloc_aligns(layout.align(), new_size) {
                mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes around the boundaries of small, medium and large size classes.
    fn sizes() -> impl Iterator<Item = usize> {
        (1..=80)
            .chain([96, 100, 120, 127, 128, 129, 320, 321, 576, 1000, 1024, 4095])
            .chain([4096, 9000, 65_536, 70_000, 600_000, 5 << 20])
    }

    fn pattern(i: usize) -> u8 {
        (i.wrapping_mul(31) ^ (i >> 8)) as u8
    }

    #[test]
    fn blocks_have_the_layouts_alignment_and_keep_their_contents() {
        let allocator = MiMalloc;
        for align in [1, 2, 4, 8, 16, 32, 64] {
            for size in sizes() {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero-sized layout; the block is written only
                // within its size and freed once with its layout.
                unsafe {
                    let p = allocator.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "alloc size {size} align {align}");
                    for i in 0..size {
                        p.add(i).write(pattern(i));
                    }
                    let grown = size * 2 + 8;
                    let q = allocator.realloc(p, layout, grown);
                    assert!(!q.is_null());
                    assert_eq!(q as usize % align, 0, "grow size {size} align {align}");
                    assert!((0..size).all(|i| q.add(i).read() == pattern(i)));
                    let shrunk = size.div_ceil(2);
                    let grown_layout = Layout::from_size_align(grown, align).unwrap();
                    let r = allocator.realloc(q, grown_layout, shrunk);
                    assert!(!r.is_null());
                    assert_eq!(r as usize % align, 0, "shrink size {size} align {align}");
                    assert!((0..shrunk).all(|i| r.add(i).read() == pattern(i)));
                    allocator.dealloc(r, Layout::from_size_align(shrunk, align).unwrap());
                }
            }
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_and_aligned() {
        let allocator = MiMalloc;
        for align in [1, 8, 16, 32, 64] {
            for size in sizes() {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: as above; the block is read within its size only.
                unsafe {
                    // Dirty a block of the same class first, so that a reused
                    // block has to be cleared.
                    let dirty = allocator.alloc(layout);
                    dirty.write_bytes(0xA5, size);
                    allocator.dealloc(dirty, layout);
                    let p = allocator.alloc_zeroed(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    assert!((0..size).all(|i| p.add(i).read() == 0));
                    allocator.dealloc(p, layout);
                }
            }
        }
    }

    #[test]
    fn only_alignments_malloc_has_skip_the_aligned_functions() {
        assert!(malloc_aligns(8, 8));
        assert!(malloc_aligns(8, 320));
        assert!(malloc_aligns(MIN_ALIGN, MIN_ALIGN));
        assert!(!malloc_aligns(16, 8));
        assert!(!malloc_aligns(2 * MIN_ALIGN, 4096));
    }
}
