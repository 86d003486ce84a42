/*
 * nn/parallel.h - optional OpenMP for the layers' loops (`make OMP=1` adds
 * -fopenmp). Without OpenMP the macros expand to nothing: no pragma is left
 * for -Wunknown-pragmas to warn about, and the loops run in order.
 *
 * Rule for every loop marked with these macros: each iteration writes only
 * its own elements (a sample, a channel, a row of a matrix), and any sum
 * runs inside one iteration in a fixed order. So the result does not depend
 * on the thread count: an OpenMP build gives the same bits with 1 thread or
 * with 8, and the same bits as the plain build (given the same compiler and
 * flags; -march changes none of the element-wise arithmetic since
 * -ffp-contract=off forbids fused multiply-adds).
 *
 *   GC_OMP_FOR(work)   before a `for`: run its iterations on the OpenMP
 *                      threads when `work` (an estimate of the elements the
 *                      whole loop touches) is at least GC_OMP_MIN_WORK;
 *                      smaller loops are not worth waking the threads for.
 *   GC_OMP_FOR_TEAM(nt) before a `for`: the same on at most nt threads, for
 *                      loops whose iterations use per-thread scratch
 *                      (GC_THREAD_NUM() picks the slot; nt = the number of
 *                      slots allocated, from GC_MAX_THREADS() at build).
 */
#ifndef GC_PARALLEL_H
#define GC_PARALLEL_H

/* Below this many elements touched, a loop runs in the calling thread. */
#define GC_OMP_MIN_WORK 32768

#ifdef _OPENMP
#include <omp.h>
#define GC_PRAGMA_STR(x) #x
#define GC_PRAGMA(x) _Pragma(GC_PRAGMA_STR(x))
#define GC_OMP_FOR(work) \
    GC_PRAGMA(omp parallel for schedule(static) if ((double)(work) >= GC_OMP_MIN_WORK))
#define GC_OMP_FOR_TEAM(nt) GC_PRAGMA(omp parallel for schedule(static) num_threads(nt))
#define GC_THREAD_NUM() omp_get_thread_num()
#define GC_MAX_THREADS() omp_get_max_threads()
#else
#define GC_OMP_FOR(work)
#define GC_OMP_FOR_TEAM(nt)
#define GC_THREAD_NUM() 0
#define GC_MAX_THREADS() 1
#endif

#endif
