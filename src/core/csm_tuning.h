/* The kernels' tuning constants that do not depend on the type or the instruction set, each with
 * its reason; docs/PERFORMANCE.md and the commit that set it give the numbers. All but those of
 * two families live here: the fused kernels' FUSED_* (softmax/csm_rows_fused.h) and the float16 /
 * bfloat16 rows' HALF_* (softmax/csm_rows_half.h) sit beside the code they tune. */
#ifndef CSM_TUNING_H
#define CSM_TUNING_H

/* A float32 lane adds at most FLUSH terms before its partial sum goes into a double: this bounds
 * the summation error near 1e-7 for any length (tests/softmax/test_accuracy.py builds the worst
 * case). */
#define FLUSH 8

/* Column kernels work on chunks of NB vectors of adjacent columns (whole cache lines per row
 * visit); short rows (n <= SMALL_ROW_MAX) are done NB vectors of rows at a time, one per lane. */
#define NB 4
#define SMALL_ROW_MAX 32
/* where tails are masked, rows of up to REG_ROW_VECTORS vectors are done a row at a time in
 * registers (csm_rows.h: reg_rows); at most FLUSH, so the sum needs no flush */
#define REG_ROW_VECTORS 8
/* where tails are masked, softmax rows up to PAIR_ROW_MAX elements, in inputs up to
 * PAIR_TOTAL_MAX bytes, go through the three passes two rows at a time (softmax_row_pair) */
#define PAIR_ROW_MAX 4096
#define PAIR_TOTAL_MAX (8 << 20)

/* log_softmax, logsumexp and cross-entropy take rows in groups of up to VL, pass by pass; rows
 * that are not in registers, at most GROUP_BYTES of them, so the passes reread them from L2 */
#define GROUP_BYTES (64 << 10)

/* Outputs of a thread's part from this size on are written with non-temporal stores where a
 * kernel offers them (csm_rows_fused.h, csm_stats.h): they would not stay in cache anyway, and
 * streaming saves the read-for-ownership. */
#define STREAM_MIN_BYTES (16 << 20)

/* Rows up to ROW_L2_BYTES go through three passes, prefetched PREFETCH_AHEAD bytes ahead when
 * the input exceeds PREFETCH_TOTAL_MIN (a 512 KB L2 holds the row, its output and the next);
 * longer rows are read once, in blocks of LONG_BLOCK_BYTES that stay in L1 (csm_rows_long.h). */
#define ROW_L2_BYTES (128 << 10)
#define PREFETCH_TOTAL_MIN (2 << 20)
#define PREFETCH_AHEAD 4096
#define LONG_BLOCK_BYTES 8192
#define LONG_BLOCKS_ON_STACK 128

/* A pass that takes a row's exps before its max is known (csm_rows_half.h, decode/) shifts
 * them by a guess g, the max of the row's first values, and keeps the result when the row's max
 * m turns out at most GUESS_SLACK above it: exp(m - g) and a row's sum of such stay finite in
 * float32, and g <= m keeps every exp that shows in a result normal. */
#define GUESS_SLACK 64

/* top_p on rows from this long is bracketed by a subsample first (decode/csm_top_p.h:
 * top_p_cutoff); shorter rows are resolved whole, where the subsample's passes would cost more
 * than they save */
#define TOP_P_SUB_MIN 16384

/* csm_half.h's row conversions read their input this far ahead, as the fused kernels' pass does
 * (FUSED_AHEAD_BYTES in csm_rows_fused.h): later lines arrive while this one converts */
#define CSM_HALF_AHEAD_BYTES 16384

/* Threads split the columns of an axis-0 reduction in groups of COL_GRAIN: whole cache lines
 * and whole vector chunks per thread (csm_dispatch.c). */
#define COL_GRAIN 64

#endif
