// Register-resident paths of the TASD kernel, included by _nmkernel.cpp (inside its namespace,
// after Job). Written with GCC/Clang vector extensions: 32-byte vectors, i.e. AVX2 registers in
// the AVX2 build and pairs of SSE2 registers in the baseline one. Same selection rule and
// bit-identical results as the tile code, for the two layouts that carry most of the work:
//
// * rows (s_q == 1, Q >= lanes): conv weights at each kernel tap, activations (N, C, H, W)
//   blocked along C. The M values of a super-block are M rows of Q contiguous lanes; each row is
//   loaded straight into a vector and rows are compared with rows. A row's last vector overlaps
//   the one before instead of running short: outputs are only written, so a lane computed twice
//   gets the same bits twice.
// * runs (Q == 1, s_l == 1): linear weights and activations, 1x1 convs. One vector holds whole
//   super-blocks; each value meets the others of its block through in-block rotations.
//
// Both skip the tile's copies into and out of a structure-of-arrays buffer, which cost more than
// the comparisons (perf, 2:4 on a linear weight: two thirds of the time). The tile code keeps
// every other layout, the end of a row that fills no whole vector, and the keep-mask output.
//
// GCC only (__builtin_shuffle, vector conditionals): other compilers, or a build with
// -DTASDER_NO_VECTOR_PATHS, get declarations only and the tile code does all the work.

#if defined(__GNUC__) && !defined(__clang__) && !defined(TASDER_NO_VECTOR_PATHS)
#define TASDER_VECTOR_PATHS 1

constexpr int kVecBytes = 32;

template <typename I>
struct VecOf;  // the vector type of each magnitude type (an alias cannot carry the attribute)
template <>
struct VecOf<int16_t> {
    typedef int16_t type __attribute__((vector_size(kVecBytes)));
};
template <>
struct VecOf<int32_t> {
    typedef int32_t type __attribute__((vector_size(kVecBytes)));
};
template <>
struct VecOf<int64_t> {
    typedef int64_t type __attribute__((vector_size(kVecBytes)));
};
template <typename I>
using Vec = typename VecOf<I>::type;

template <typename I>
constexpr int kLanes = kVecBytes / static_cast<int>(sizeof(I));

template <typename I>
inline Vec<I> vload(const char* base, idx_t index) {
    Vec<I> v;
    std::memcpy(&v, base + index * static_cast<idx_t>(sizeof(I)), sizeof v);
    return v;
}

template <typename I>
inline void vstore(char* base, idx_t index, Vec<I> v) {
    std::memcpy(base + index * static_cast<idx_t>(sizeof(I)), &v, sizeof v);
}

template <typename I>
inline Vec<I> splat(I x) {
    return Vec<I>{} + x;
}

// Non-finite counts held in vector lanes, flushed long before an int16 lane could overflow.
template <typename I>
struct BadCount {
    Vec<I> lanes{};
    int pending = 0;
    int64_t total = 0;
    void add(Vec<I> is_bad) {  // -1 where bad, else 0
        lanes -= is_bad;
        if (++pending == 8192) flush();
    }
    void flush() {
        for (int l = 0; l < kLanes<I>; ++l) total += lanes[l];
        lanes = Vec<I>{};
        pending = 0;
    }
    int64_t result() {
        flush();
        return total;
    }
};

// The keep flags of one term, the residual updated, and the stores of every requested output:
// shared by both layouts, which differ only in how a value meets the others of its block.
template <typename I, int M>
struct VecSeries {
    Vec<I> val[M], cur[M], mag[M], kept[kMaxTerms][M];

    // `counted`: -1 in the lanes whose non-finite values count (not yet counted by an overlap).
    void start(BadCount<I>& bad, I mag_mask, I exp_mask, Vec<I> counted) {
        for (int k = 0; k < M; ++k) {
            cur[k] = val[k];
            mag[k] = val[k] & mag_mask;
            bad.add((mag[k] >= exp_mask) & counted);
        }
    }
    void apply(int t, const Vec<I>* keep, I mag_mask) {
        for (int k = 0; k < M; ++k) {
            kept[t][k] = cur[k] & keep[k];
            cur[k] ^= kept[t][k];  // the residual: kept values become +0
            mag[k] = cur[k] & mag_mask;
        }
    }
    // where(k) is the element index of vector k in every output.
    template <typename Where>
    void emit(const Job& j, Where where) const {
        for (int t = 0; t < j.terms; ++t)
            if (j.out[t])
                for (int k = 0; k < M; ++k) vstore<I>(j.out[t], where(k), kept[t][k]);
        if (j.out[j.terms])
            for (int k = 0; k < M; ++k) vstore<I>(j.out[j.terms], where(k), cur[k]);
        if (j.approx)
            for (int k = 0; k < M; ++k) vstore<I>(j.approx, where(k), val[k] ^ cur[k]);
    }
};

// --- rows ---------------------------------------------------------------------------------------

// keep[k] = -1 in the lanes where row k is among the n largest of its m rows (ties: lower row).
template <typename I, int m>
inline void keep_rows(const Vec<I>* mag, I n, Vec<I>* keep) {
    if (n == 1) {  // the first row holding the largest magnitude
        Vec<I> best = mag[0];
        for (int k = 1; k < m; ++k) best = mag[k] > best ? mag[k] : best;
        Vec<I> taken{};
        for (int k = 0; k < m; ++k) {
            keep[k] = (mag[k] == best) & ~taken;
            taken |= keep[k];
        }
        return;
    }
    Vec<I> rank[m];  // as in keep_flags: one comparison per pair serves both rows
    for (int k = 0; k < m; ++k) rank[k] = splat<I>(static_cast<I>(m - 1 - k));
    for (int k = 1; k < m; ++k)
        for (int i = 0; i < k; ++i) {
            const Vec<I> earlier_wins = mag[i] >= mag[k];  // -1 or 0
            rank[k] -= earlier_wins;
            rank[i] += earlier_wins;
        }
    for (int k = 0; k < m; ++k) keep[k] = rank[k] < n;
}

template <typename I, int M, int MT>
inline void term_rows(VecSeries<I, M>& s, int t, I n, I mag_mask) {
    Vec<I> keep[M];
    for (int start = 0; start < M; start += MT) keep_rows<I, MT>(s.mag + start, n, keep + start);
    s.apply(t, keep, mag_mask);
}

// Super-block b of row p, every lane, one vector of lanes at a time (s_q == 1, Q >= lanes).
template <typename I, int M>
void series_rows(const Job& j, idx_t p, idx_t b, BadCount<I>& bad) {
    constexpr int L = kLanes<I>;
    const I mag_mask = magnitude_mask<I>(), exp_mask = static_cast<I>(j.exp_mask);
    const idx_t in0 = p * j.s_p + b * M * j.s_l, out0 = (p * j.L + b * M) * j.Q;
    VecSeries<I, M> s;
    for (idx_t q = 0; q < j.Q; q += L) {
        const idx_t q0 = q + L <= j.Q ? q : j.Q - L;  // the last vector overlaps
        for (int k = 0; k < M; ++k) s.val[k] = vload<I>(j.src, in0 + k * j.s_l + q0);
        Vec<I> counted = splat<I>(I(-1));
        for (int l = 0; l < q - q0; ++l) counted[l] = 0;  // only the overlapping last vector
        s.start(bad, mag_mask, exp_mask, counted);
        for (int t = 0; t < j.terms; ++t) {
            const I n = static_cast<I>(j.n[t]);
            switch (j.m[t]) {
                case 1: term_rows<I, M, 1>(s, t, n, mag_mask); break;
                case 2: if constexpr (M % 2 == 0) term_rows<I, M, 2>(s, t, n, mag_mask); break;
                case 4: if constexpr (M % 4 == 0) term_rows<I, M, 4>(s, t, n, mag_mask); break;
                case 8: if constexpr (M % 8 == 0) term_rows<I, M, 8>(s, t, n, mag_mask); break;
                default: term_rows<I, M, M>(s, t, n, mag_mask); break;  // m == M == 16
            }
        }
        s.emit(j, [&](int k) { return out0 + k * j.Q + q0; });
    }
}

// --- runs ---------------------------------------------------------------------------------------

// Lane l meets value (l % m + r) % m of its own block of m lanes.
template <typename I, int m, int r>
inline Vec<I> rotation() {
    Vec<I> index;
    for (int l = 0; l < kLanes<I>; ++l) index[l] = static_cast<I>(l / m * m + (l % m + r) % m);
    return index;
}

// -1 in the lanes whose partner under rotation r has the lower index (and so wins a tie).
template <typename I, int m, int r>
inline Vec<I> partner_is_earlier() {
    Vec<I> earlier;
    for (int l = 0; l < kLanes<I>; ++l) earlier[l] = l % m + r >= m ? I(-1) : I(0);
    return earlier;
}

template <typename I, int m, int r>
inline Vec<I> partner_beats(Vec<I> mag) {
    const Vec<I> other = __builtin_shuffle(mag, rotation<I, m, r>());
    return (other > mag) | (partner_is_earlier<I, m, r>() & (other == mag));
}

template <typename I, int m, int... r>
inline Vec<I> rank_runs(Vec<I> mag, std::integer_sequence<int, r...>) {
    Vec<I> rank{};
    ((rank -= partner_beats<I, m, r + 1>(mag)), ...);
    (void)mag;  // m == 1: no partners
    return rank;
}

template <typename I, int MT>
inline void term_runs(VecSeries<I, 1>& s, int t, I n, I mag_mask) {
    const Vec<I> keep = rank_runs<I, MT>(s.mag[0], std::make_integer_sequence<int, MT - 1>()) < n;
    s.apply(t, &keep, mag_mask);
}

// Super-blocks b .. b+count-1 of row p when they are contiguous (Q == 1, s_l == 1), as many as
// fill whole vectors; returns how many it did (the rest go to the tile code).
template <typename I, int M>
idx_t series_runs(const Job& j, idx_t p, idx_t b, idx_t count, BadCount<I>& bad) {
    constexpr int L = kLanes<I>;
    static_assert(L % M == 0, "a vector holds whole super-blocks");
    const I mag_mask = magnitude_mask<I>(), exp_mask = static_cast<I>(j.exp_mask);
    const idx_t vectors = count * M / L;
    const idx_t in0 = p * j.s_p + b * M, out0 = p * j.L + b * M;
    const Vec<I> all = splat<I>(I(-1));
    VecSeries<I, 1> s;
    for (idx_t v = 0; v < vectors; ++v) {
        s.val[0] = vload<I>(j.src, in0 + v * L);
        s.start(bad, mag_mask, exp_mask, all);
        for (int t = 0; t < j.terms; ++t) {
            const I n = static_cast<I>(j.n[t]);
            switch (j.m[t]) {
                case 1: term_runs<I, 1>(s, t, n, mag_mask); break;
                case 2: if constexpr (M % 2 == 0) term_runs<I, 2>(s, t, n, mag_mask); break;
                case 4: if constexpr (M % 4 == 0) term_runs<I, 4>(s, t, n, mag_mask); break;
                case 8: if constexpr (M % 8 == 0) term_runs<I, 8>(s, t, n, mag_mask); break;
                default: term_runs<I, M>(s, t, n, mag_mask); break;  // m == M == 16
            }
        }
        s.emit(j, [&](int) { return out0 + v * L; });
    }
    return vectors * L / M;
}

#else
#define TASDER_VECTOR_PATHS 0

template <typename I>
constexpr int kLanes = 1;

template <typename I>
struct BadCount {
    int64_t result() { return 0; }
};

template <typename I, int M>
void series_rows(const Job& j, idx_t p, idx_t b, BadCount<I>& bad);  // never instantiated

template <typename I, int M>
idx_t series_runs(const Job& j, idx_t p, idx_t b, idx_t count, BadCount<I>& bad);
#endif
