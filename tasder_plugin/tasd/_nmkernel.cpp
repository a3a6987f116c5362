// A whole TASD series in one fused pass on the CPU. Term t keeps the n_t largest magnitudes of
// every block of m_t consecutive values along the blocked dimension of the residual left by the
// terms before it (ties: lower index wins). The kernel reads the input once and writes each term,
// the final residual and/or the first term's keep mask once, counting non-finite inputs on the way.
//
// Why native code: the same work as a chain of torch ops reads and writes the tensor about ten
// times per term. The Python wrapper (kernel.py) validates every argument; this file trusts them.
//
// Magnitudes are the IEEE bit pattern with the sign bit cleared, held in a signed integer: for
// finite values it is monotone in |x| (and -0 equals +0) for fp16, bf16, fp32 and fp64 alike, and
// comparing integers is exact. The input is a strided (P, L, Q) view; outputs are contiguous
// (P, L, Q). Blocks run along L. All block sizes divide M = lcm(m_t), so a "super-block" of M
// values holds whole blocks of every term; a row's last, shorter super-block is handled by scalar
// code in which a block cut short by the end of L keeps at most n values (as if zero-padded).
// Full super-blocks are processed in tiles of "lanes" (one super-block each) laid out
// structure-of-arrays, so that comparisons vectorise across lanes. setup.py builds this file
// twice on x86-64, baseline and AVX2 (module _nmkernel_avx2); kernel.py picks what the CPU runs.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>

namespace {

constexpr int kMaxM = 256;
constexpr int kMaxTerms = 8;
typedef Py_ssize_t idx_t;

struct Job {
    const char* src;
    idx_t s_p, s_l, s_q;  // source strides, in elements
    char* out[kMaxTerms + 1];  // term pointers, then the residual (null: not written)
    char* approx;  // sum of the terms, i.e. the input where any term kept it (null: not written)
    char* mask;  // keep mask of term 0 (null: not written)
    idx_t P, L, Q;
    int terms, M;
    int n[kMaxTerms], m[kMaxTerms];
    uint64_t exp_mask;  // exponent bits: magnitude >= exp_mask means Inf or NaN
};

template <typename I>
constexpr I magnitude_mask() {
    return static_cast<I>(~(static_cast<typename std::make_unsigned<I>::type>(1)
                            << (8 * sizeof(I) - 1)));
}

// One tile: `val` holds TILE lanes of one super-block each (padding lanes zero). On return
// out[t] holds term t, out[terms] the residual, keep0 the keep flags of term 0.
template <typename I, int MC, int TILE>
struct Tile {
    static constexpr int kRows = MC ? MC : kMaxM;
    I val[kRows][TILE];
    I out[kMaxTerms + 1][kRows][TILE];
    I approx[kRows][TILE];
    I keep0[kRows][TILE];
};

// keep[k][l] = all ones where value k of block lane l is among the top n of the m in `mag`
// (ties: the lower index wins), else 0.
template <typename I, int MT, int TILE>
inline void keep_flags(const I (*mag)[TILE], int m_runtime, I n, I (*keep)[TILE]) {
    const int m = MT ? MT : m_runtime;
    if (n == 1) {  // the first index holding the block's largest magnitude: m - 1 maxima
        I best[TILE], taken[TILE];
        for (int l = 0; l < TILE; ++l) best[l] = mag[0][l], taken[l] = 0;
        for (int k = 1; k < m; ++k)
            for (int l = 0; l < TILE; ++l) best[l] = std::max(best[l], mag[k][l]);
        for (int k = 0; k < m; ++k)
            for (int l = 0; l < TILE; ++l) {
                keep[k][l] = -static_cast<I>(mag[k][l] == best[l]) & ~taken[l];
                taken[l] |= keep[k][l];
            }
        return;
    }
    // rank[k] = #{i < k: mag[i] >= mag[k]} + #{i > k: mag[i] > mag[k]}: one comparison per
    // pair (i < k) serves both, since mag[k] > mag[i] is the negation of mag[i] >= mag[k].
    I (*rank)[TILE] = keep;
    for (int k = 0; k < m; ++k)
        for (int l = 0; l < TILE; ++l) rank[k][l] = static_cast<I>(m - 1 - k);
    for (int k = 1; k < m; ++k)
        for (int i = 0; i < k; ++i)
            for (int l = 0; l < TILE; ++l) {
                const I earlier_wins = mag[i][l] >= mag[k][l];
                rank[k][l] += earlier_wins;
                rank[i][l] -= earlier_wins;
            }
    for (int k = 0; k < m; ++k)
        for (int l = 0; l < TILE; ++l) keep[k][l] = -static_cast<I>(rank[k][l] < n);
}

// Term t over a tile: keep the top n of every block of MT (compile-time when MT > 0) of the
// current residual `cur` (magnitudes `mag`), write the kept values to out[t], then zero them in
// the residual. Comparisons run across the TILE lanes, so they vectorise.
template <typename I, int MC, int MT, int TILE>
inline void term_tile(const Job& j, Tile<I, MC, TILE>& tile, I (*cur)[TILE], I (*mag)[TILE],
                      int t) {
    const int M = MC ? MC : j.M;
    const int m = MT ? MT : j.m[t];
    const I n = static_cast<I>(j.n[t]);
    const I mag_mask = magnitude_mask<I>();
    for (int start = 0; start < M; start += m) {
        I keep[MT ? MT : kMaxM][TILE];
        keep_flags<I, MT, TILE>(mag + start, m, n, keep);
        for (int k = 0; k < m; ++k) {
            I* kept = tile.out[t][start + k];
            I* c = cur[start + k];
            I* a = mag[start + k];
            for (int l = 0; l < TILE; ++l) {
                kept[l] = c[l] & keep[k][l];
                c[l] ^= kept[l];  // the residual: kept values become +0
                a[l] = static_cast<I>(c[l] & mag_mask);
            }
            if (t == 0 && j.mask)
                for (int l = 0; l < TILE; ++l) tile.keep0[start + k][l] = keep[k][l];
        }
    }
}

// The whole series over one tile: `val` holds TILE lanes of one super-block each (padding lanes
// zero). On return out[t] holds term t, out[terms] the residual, keep0 the keep flags of term 0.
template <typename I, int MC, int TILE>
inline int64_t decompose_tile(const Job& j, Tile<I, MC, TILE>& tile) {
    const int M = MC ? MC : j.M;
    const I mag_mask = magnitude_mask<I>();
    const I exp_mask = static_cast<I>(j.exp_mask);
    I (*cur)[TILE] = tile.out[j.terms];  // the residual is updated in place, term by term
    I mag[Tile<I, MC, TILE>::kRows][TILE];
    int64_t bad = 0;
    for (int k = 0; k < M; ++k) {
        I nonfinite = 0;
        for (int l = 0; l < TILE; ++l) {
            cur[k][l] = tile.val[k][l];
            mag[k][l] = static_cast<I>(tile.val[k][l] & mag_mask);
            nonfinite += mag[k][l] >= exp_mask;
        }
        bad += nonfinite;
    }
    for (int t = 0; t < j.terms; ++t) {
        switch (j.m[t]) {
            case 2: term_tile<I, MC, 2, TILE>(j, tile, cur, mag, t); break;
            case 4: term_tile<I, MC, 4, TILE>(j, tile, cur, mag, t); break;
            case 8: term_tile<I, MC, 8, TILE>(j, tile, cur, mag, t); break;
            case 16: term_tile<I, MC, 16, TILE>(j, tile, cur, mag, t); break;
            default: term_tile<I, MC, 0, TILE>(j, tile, cur, mag, t); break;
        }
    }
    if (j.approx)  // supports are disjoint: the sum of the terms is the input minus the residual
        for (int k = 0; k < M; ++k)
            for (int l = 0; l < TILE; ++l) tile.approx[k][l] = tile.val[k][l] ^ cur[k][l];
    return bad;
}

// Calls store(dst, rows, convert) for every requested output of a tile: each term, the residual
// and the keep mask of term 0 (as bytes). A layout's `store` knows where value k of lane l goes.
template <typename I, int MC, int TILE, typename Store>
inline void emit_tile(const Job& j, const Tile<I, MC, TILE>& tile, Store store) {
    auto same = [](I v) { return v; };
    for (int t = 0; t <= j.terms; ++t)
        if (j.out[t]) store(reinterpret_cast<I*>(j.out[t]), tile.out[t], same);
    if (j.approx) store(reinterpret_cast<I*>(j.approx), tile.approx, same);
    if (j.mask) store(j.mask, tile.keep0, [](I v) { return static_cast<char>(v & 1); });
}

// Super-blocks b0 .. b0+count-1 of row p when each is contiguous (Q == 1, s_l == 1): input and
// outputs are plain runs of count * M values.
template <typename I, int MC, int TILE>
int64_t tile_contiguous_blocks(const Job& j, Tile<I, MC, TILE>& tile, idx_t p, idx_t b0,
                               int count) {
    const int M = MC ? MC : j.M;
    const I* __restrict__ row = reinterpret_cast<const I*>(j.src) + p * j.s_p + b0 * M;
    if (count == TILE) {
        for (int l = 0; l < TILE; ++l)
            for (int k = 0; k < M; ++k) tile.val[k][l] = row[l * M + k];
    } else {
        for (int l = 0; l < TILE; ++l)
            for (int k = 0; k < M; ++k) tile.val[k][l] = l < count ? row[l * M + k] : I(0);
    }
    const int64_t bad = decompose_tile(j, tile);
    const idx_t out = p * j.L + b0 * M;
    emit_tile(j, tile, [&](auto* dst, const I (*rows)[TILE], auto convert) {
        auto* __restrict__ o = dst + out;
        for (int l = 0; l < count; ++l)
            for (int k = 0; k < M; ++k) o[l * M + k] = convert(rows[k][l]);
    });
    return bad;
}

// Super-blocks b0 .. b0+nb-1 of row p with all their Q lanes, when lanes are contiguous
// (s_q == 1) and nb * Q <= TILE: each (block, k) is a run of Q values in input and outputs.
// QC > 0 fixes Q at compile time (3x3 kernels) so that the short runs unroll.
template <typename I, int MC, int TILE, int QC>
int64_t tile_runs(const Job& j, Tile<I, MC, TILE>& tile, idx_t p, idx_t b0, int nb) {
    const int M = MC ? MC : j.M;
    const int Q = QC ? QC : static_cast<int>(j.Q), lanes = nb * Q;
    const I* __restrict__ src = reinterpret_cast<const I*>(j.src) + p * j.s_p + b0 * M * j.s_l;
    for (int k = 0; k < M; ++k) {
        for (int bb = 0; bb < nb; ++bb) {
            const I* run = src + (bb * M + k) * j.s_l;
            for (int q = 0; q < Q; ++q) tile.val[k][bb * Q + q] = run[q];
        }
        for (int l = lanes; l < TILE; ++l) tile.val[k][l] = 0;
    }
    const int64_t bad = decompose_tile(j, tile);
    const idx_t out = (p * j.L + b0 * M) * Q;
    emit_tile(j, tile, [&](auto* dst, const I (*rows)[TILE], auto convert) {
        for (int bb = 0; bb < nb; ++bb)
            for (int k = 0; k < M; ++k) {
                auto* __restrict__ o = dst + out + static_cast<idx_t>(bb * M + k) * Q;
                const I* r = rows[k] + bb * Q;
                for (int q = 0; q < Q; ++q) o[q] = convert(r[q]);
            }
    });
    return bad;
}

// Lanes q0 .. q0+count-1 of super-block b of row p when lanes are contiguous (large Q).
template <typename I, int MC, int TILE>
int64_t tile_lanes(const Job& j, Tile<I, MC, TILE>& tile, idx_t p, idx_t b, idx_t q0,
                   int count) {
    const int M = MC ? MC : j.M;
    const I* __restrict__ base =
        reinterpret_cast<const I*>(j.src) + p * j.s_p + b * M * j.s_l + q0 * j.s_q;
    for (int k = 0; k < M; ++k)
        for (int l = 0; l < TILE; ++l)
            tile.val[k][l] = l < count ? base[k * j.s_l + l * j.s_q] : I(0);
    const int64_t bad = decompose_tile(j, tile);
    const idx_t out = (p * j.L + b * M) * j.Q + q0;
    emit_tile(j, tile, [&](auto* dst, const I (*rows)[TILE], auto convert) {
        for (int k = 0; k < M; ++k) {
            auto* __restrict__ o = dst + out + k * j.Q;
            for (int l = 0; l < count; ++l) o[l] = convert(rows[k][l]);
        }
    });
    return bad;
}

// The last super-block of row p, shorter than M (length L % M), lane q: plain scalar code.
template <typename I>
int64_t lane_tail(const Job& j, idx_t p, idx_t q) {
    const idx_t start = j.L - j.L % j.M;
    const int len = static_cast<int>(j.L - start);
    const I mag_mask = magnitude_mask<I>();
    const I* src = reinterpret_cast<const I*>(j.src);
    I val[kMaxM], cur[kMaxM], mag[kMaxM];
    int64_t bad = 0;
    for (int k = 0; k < len; ++k) {
        val[k] = cur[k] = src[p * j.s_p + (start + k) * j.s_l + q * j.s_q];
        mag[k] = static_cast<I>(cur[k] & mag_mask);
        bad += mag[k] >= static_cast<I>(j.exp_mask);
    }
    auto at = [&](int k) { return (p * j.L + start + k) * j.Q + q; };
    for (int t = 0; t < j.terms; ++t) {
        I kept[kMaxM];
        for (int b = 0; b < len; b += j.m[t]) {
            const int end = std::min(len, b + j.m[t]);
            for (int k = b; k < end; ++k) {
                int rank = 0;
                for (int i = b; i < end; ++i)
                    rank += i < k ? mag[i] >= mag[k] : (i > k && mag[i] > mag[k]);
                kept[k] = rank < j.n[t] ? cur[k] : I(0);
                if (t == 0 && j.mask) j.mask[at(k)] = static_cast<char>(rank < j.n[t]);
            }
        }
        for (int k = 0; k < len; ++k) {
            if (j.out[t]) reinterpret_cast<I*>(j.out[t])[at(k)] = kept[k];
            cur[k] ^= kept[k];
            mag[k] = static_cast<I>(cur[k] & mag_mask);
        }
    }
    if (j.out[j.terms])
        for (int k = 0; k < len; ++k) reinterpret_cast<I*>(j.out[j.terms])[at(k)] = cur[k];
    if (j.approx)
        for (int k = 0; k < len; ++k) reinterpret_cast<I*>(j.approx)[at(k)] = val[k] ^ cur[k];
    return bad;
}

#include "_nmkernel_vec.h"

template <typename I, int MC, bool enabled>
idx_t vector_runs(const Job& j, idx_t p, idx_t b, idx_t count, BadCount<I>& bad) {
    if constexpr (enabled) return series_runs<I, MC>(j, p, b, count, bad);
    return 0;
}

// Work items [g0, g1) of the flattened (row p, super-block b) space, short ones included.
template <typename I, int MC>
int64_t run_range(const Job& j, idx_t g0, idx_t g1) {
    constexpr int TILE = MC ? (MC <= 8 ? 64 : 16) : 8;
    std::unique_ptr<Tile<I, MC, TILE>> tile(new Tile<I, MC, TILE>);  // large: keep off the stack
    const idx_t full = j.L / j.M, blocks = (j.L + j.M - 1) / j.M;
    const bool blocks_contiguous = j.Q == 1 && j.s_l == 1;
    const bool lanes_contiguous = j.s_q == 1 && j.Q * 2 <= TILE;
    // The register-resident paths (_nmkernel_vec.h) where M is a fixed power of two.
    constexpr bool kVecRows = TASDER_VECTOR_PATHS && (MC == 2 || MC == 4 || MC == 8 || MC == 16);
    constexpr bool kVecRuns = kVecRows && MC <= kLanes<I>;
    // Rows waste the lanes a row's overlapping last vector recomputes: only where that is little
    // (Q = 9 would compute 16 lanes for 9; the tile packs 7 such blocks into 64 lanes).
    const bool vec_rows = kVecRows && !j.mask && j.s_q == 1 &&
                          (j.Q % kLanes<I> == 0 || j.Q >= 4 * kLanes<I>);
    const bool vec_runs = kVecRuns && !j.mask && blocks_contiguous;
    BadCount<I> vec_bad;
    int64_t bad = 0;
    for (idx_t g = g0; g < g1;) {
        const idx_t p = g / blocks, b = g % blocks;
        if (b == full) {  // the short last super-block of row p
            for (idx_t q = 0; q < j.Q; ++q) bad += lane_tail<I>(j, p, q);
            g += 1;
        } else if (vec_rows) {
            if constexpr (kVecRows) series_rows<I, MC>(j, p, b, vec_bad);
            g += 1;
        } else if (const idx_t done = vec_runs ? vector_runs<I, MC, kVecRuns>(
                                                     j, p, b, std::min(g1 - g, full - b), vec_bad)
                                               : 0) {
            g += done;  // whole vectors of super-blocks; the rest of the row below
        } else if (blocks_contiguous) {
            const int count = static_cast<int>(std::min<idx_t>({TILE, g1 - g, full - b}));
            bad += tile_contiguous_blocks(j, *tile, p, b, count);
            g += count;
        } else if (lanes_contiguous) {  // small Q: whole super-blocks per tile
            const int nb = static_cast<int>(std::min<idx_t>({TILE / j.Q, g1 - g, full - b}));
            constexpr int kTaps3x3 = TILE >= 2 * 9 ? 9 : 0;  // fixed Q only where 2 runs fit
            bad += j.Q == 9 ? tile_runs<I, MC, TILE, kTaps3x3>(j, *tile, p, b, nb)
                            : tile_runs<I, MC, TILE, 0>(j, *tile, p, b, nb);
            g += nb;
        } else {  // large Q or any strides: tiles along q
            for (idx_t q0 = 0; q0 < j.Q; q0 += TILE) {
                const int count = static_cast<int>(std::min<idx_t>(TILE, j.Q - q0));
                bad += tile_lanes(j, *tile, p, b, q0, count);
            }
            g += 1;
        }
    }
    return bad + vec_bad.result();
}

template <typename I>
int64_t dispatch_m(const Job& j, idx_t g0, idx_t g1) {
    switch (j.M) {
        case 2: return run_range<I, 2>(j, g0, g1);
        case 4: return run_range<I, 4>(j, g0, g1);
        case 8: return run_range<I, 8>(j, g0, g1);
        case 16: return run_range<I, 16>(j, g0, g1);
        default: return run_range<I, 0>(j, g0, g1);
    }
}

int64_t dispatch(const Job& j, int esize, idx_t g0, idx_t g1) {
    switch (esize) {
        case 2: return dispatch_m<int16_t>(j, g0, g1);
        case 4: return dispatch_m<int32_t>(j, g0, g1);
        default: return dispatch_m<int64_t>(j, g0, g1);
    }
}

idx_t gcd(idx_t a, idx_t b) { return b ? gcd(b, a % b) : a; }

PyObject* decompose_series(PyObject*, PyObject* args) {
    Py_ssize_t src, res, approx, mask, esize, nthreads;
    PyObject *term_ptrs, *patterns;
    unsigned long long exp_mask;
    Job j{};
    if (!PyArg_ParseTuple(args, "n(nnn)O!nnn(nnn)O!nKn", &src, &j.s_p, &j.s_l, &j.s_q,
                          &PyTuple_Type, &term_ptrs, &res, &approx, &mask, &j.P, &j.L, &j.Q,
                          &PyTuple_Type, &patterns, &esize, &exp_mask, &nthreads))
        return nullptr;
    const Py_ssize_t terms = PyTuple_GET_SIZE(patterns);
    if (terms < 1 || terms > kMaxTerms || PyTuple_GET_SIZE(term_ptrs) != terms) {
        PyErr_SetString(PyExc_ValueError, "decompose_series: 1..8 patterns, one pointer each");
        return nullptr;
    }
    if (esize != 2 && esize != 4 && esize != 8) {
        PyErr_SetString(PyExc_ValueError, "decompose_series: element size must be 2, 4 or 8");
        return nullptr;
    }
    idx_t M = 1;
    for (Py_ssize_t t = 0; t < terms; ++t) {
        int n, m;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(patterns, t), "ii", &n, &m)) return nullptr;
        if (m < 1 || m > kMaxM || n < 1 || n > m) {
            PyErr_SetString(PyExc_ValueError, "decompose_series: need 1 <= n <= m <= 256");
            return nullptr;
        }
        j.n[t] = n;
        j.m[t] = m;
        M = M / gcd(M, m) * m;
        const Py_ssize_t ptr = PyLong_AsSsize_t(PyTuple_GET_ITEM(term_ptrs, t));
        if (ptr == -1 && PyErr_Occurred()) return nullptr;
        j.out[t] = reinterpret_cast<char*>(ptr);
    }
    if (M > kMaxM) {
        PyErr_SetString(PyExc_ValueError, "decompose_series: lcm of block sizes exceeds 256");
        return nullptr;
    }
    j.terms = static_cast<int>(terms);
    j.M = static_cast<int>(M);
    j.src = reinterpret_cast<const char*>(src);
    j.out[terms] = reinterpret_cast<char*>(res);
    j.approx = reinterpret_cast<char*>(approx);
    j.mask = reinterpret_cast<char*>(mask);
    j.exp_mask = exp_mask;

    const idx_t items = j.P * ((j.L + j.M - 1) / j.M);  // (row, super-block) pairs
    const idx_t threads = std::max<idx_t>(1, std::min<idx_t>({nthreads, 64, items}));
    // OpenMP, not threads of our own: the extension links libgomp.so.1, the runtime torch has
    // already loaded, so both share one pool. Separate threads would fight torch's spinning
    // OpenMP workers for the cores (measured: a 2.4x slower ResNet-50 forward with TASD-A).
    int64_t nonfinite = 0;
    Py_BEGIN_ALLOW_THREADS;
    if (threads == 1) {  // no OpenMP region at all: safe in a forked child (DataLoader workers)
        nonfinite = dispatch(j, esize, 0, items);
    } else {
#pragma omp parallel for num_threads(static_cast<int>(threads)) schedule(static) \
    reduction(+ : nonfinite)
        for (idx_t t = 0; t < threads; ++t)
            nonfinite += dispatch(j, esize, items * t / threads, items * (t + 1) / threads);
    }
    Py_END_ALLOW_THREADS;
    return PyLong_FromLongLong(nonfinite);
}

PyMethodDef methods[] = {
    {"decompose_series", decompose_series, METH_VARARGS,
     "decompose_series(src, (s_p, s_l, s_q), term_ptrs, res, approx, mask, (P, L, Q), "
     "((n, m), ...), "
     "esize, exp_mask, threads) -> number of non-finite inputs. A 0 pointer skips that output; "
     "the input must not overlap any output."},
    {nullptr, nullptr, 0, nullptr}};

#ifndef TASDER_MODULE
#define TASDER_MODULE _nmkernel
#endif
#define TASDER_STR2(x) #x
#define TASDER_STR(x) TASDER_STR2(x)
#define TASDER_CAT2(a, b) a##b
#define TASDER_CAT(a, b) TASDER_CAT2(a, b)

PyModuleDef module = {PyModuleDef_HEAD_INIT, TASDER_STR(TASDER_MODULE),
                      "Fused CPU kernel for TASD series (N:M top-n selection).", -1, methods};

}  // namespace

PyMODINIT_FUNC TASDER_CAT(PyInit_, TASDER_MODULE)(void) { return PyModule_Create(&module); }
