//! CPU-specific code paths: a cache-prefetch hint and the run-time choice of AVX-512 / AVX2 /
//! baseline copies of a compute kernel.

/// Asks the CPU to start loading the cache line holding `p` into its caches.
///
/// A hint only: it reads nothing into the program and never faults, whatever `p` is (an
/// address past the end of a slice or of a mapping included), so the caller need not know
/// that `p` is valid; `p` should come from `wrapping_add` rather than `add` for that reason.
#[inline(always)]
#[allow(clippy::inline_always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint that loads no value into a register and raises no fault
    // for any address (Intel SDM, "PREFETCHh"; AMD APM vol. 3, "PREFETCHlevel"); SSE, which
    // has it, is part of the x86-64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Code that [`run_simd`] can run compiled for wider vectors. `run` must be
/// `#[inline(always)]`, and so must what it calls, for the feature to reach the loops: only
/// code inlined into the function that enables a feature is compiled with it. (A closure does
/// not do: its body is inlined or not as the optimizer sees fit, and when it is not, it runs
/// with the baseline SSE2.)
pub(crate) trait Kernel {
    type Output;
    fn run(self) -> Self::Output;
}

/// Instruction sets [`run_simd`] can compile a [`Kernel`] for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Simd {
    /// What the build targets (SSE2 on x86-64).
    Baseline,
    /// AVX2 and FMA: 256-bit vectors, fused multiply-add.
    Avx2,
    /// AVX-512 (F, VL, DQ, BW) with AVX2 and FMA: 512-bit vectors and mask registers.
    Avx512,
}

impl Simd {
    /// Whether this CPU can run code compiled for `self`.
    pub(crate) fn available(self) -> bool {
        match self {
            Simd::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => {
                Simd::Avx2.available()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512bw")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The widest instruction set this CPU has.
    pub(crate) fn best() -> Simd {
        [Simd::Avx512, Simd::Avx2].into_iter().find(|s| s.available()).unwrap_or(Simd::Baseline)
    }
}

/// Runs `k` compiled for `level`, or for the baseline where the CPU lacks `level`.
#[inline]
pub(crate) fn run_simd<K: Kernel>(level: Simd, k: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn avx2<K: Kernel>(k: K) -> K::Output {
            k.run()
        }
        #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512dq,avx512bw")]
        fn avx512<K: Kernel>(k: K) -> K::Output {
            k.run()
        }
        match level {
            // SAFETY: the only precondition of calling a `target_feature` function is that the
            // CPU has the features, which `available` checks.
            Simd::Avx512 if level.available() => return unsafe { avx512(k) },
            // SAFETY: as above.
            Simd::Avx2 if level.available() => return unsafe { avx2(k) },
            _ => {}
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    k.run()
}
