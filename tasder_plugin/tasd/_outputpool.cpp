// Cached host memory for the outputs of TASD calls, handed to torch through DLPack.
//
// Why: a fresh output is written for the first time by the kernel, and every first touch of a
// page is a page fault. In a VM a fault costs more than writing the page (measured: decomposing
// ResNet-50's weights with 2:4 took 0.03 s into reused buffers and 0.07-0.20 s into fresh ones,
// depending on whether glibc had just returned its heap to the kernel). Torch's CPU allocator
// keeps nothing, so this module keeps released output blocks (already faulted in) and hands a
// block out again to the next request of the same page-rounded size, like torch's CUDA caching
// allocator. Blocks come from malloc; a request the cache cannot serve costs what torch.empty does.
//
// The cache of idle blocks is bounded (set_limit; beyond it released blocks are freed) and
// release() frees every idle block. Results never depend on which block a tensor got. A block
// goes back to the cache when torch frees the tensor's storage (the DLPack deleter), from
// whatever thread does so; a mutex guards the cache.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

#include <pthread.h>
#include <unistd.h>

namespace {

// The DLPack ABI (dlpack.h, unversioned "dltensor" capsules), which torch.from_dlpack reads.
struct DLDevice {
    int32_t device_type;
    int32_t device_id;
};
struct DLDataType {
    uint8_t code;
    uint8_t bits;
    uint16_t lanes;
};
struct DLTensor {
    void* data;
    DLDevice device;
    int32_t ndim;
    DLDataType dtype;
    int64_t* shape;
    int64_t* strides;
    uint64_t byte_offset;
};
struct DLManagedTensor {
    DLTensor dl_tensor;
    void* manager_ctx;
    void (*deleter)(DLManagedTensor*);
};
constexpr int32_t kDLCPU = 1;
constexpr uint8_t kDLUInt = 1;

struct Cache {
    std::mutex mutex;
    std::multimap<size_t, void*> idle;  // bytes -> block
    size_t idle_bytes = 0;
    size_t limit = size_t(1) << 30;
    uint64_t hits = 0, misses = 0;
};
// Never destroyed: torch may free tensors (and so run deleters) during interpreter teardown.
Cache* cache = new Cache;

// A forked child must not wait on a mutex a parent thread held at fork time: it starts an empty
// cache (the parent's idle blocks are left alone: the child's copies of them are never used).
void reset_after_fork() {
    const size_t limit = cache->limit;
    cache = new Cache;
    cache->limit = limit;
}

// A new block from malloc, 64-byte aligned like torch's CPU allocator: a first request costs
// what torch.empty costs (glibc may hand back pages the process already touched).
void* new_block(size_t bytes) {
    void* block = nullptr;
    return posix_memalign(&block, 64, bytes) == 0 ? block : nullptr;
}

void* take(size_t bytes) {
    {
        std::lock_guard<std::mutex> lock(cache->mutex);
        auto it = cache->idle.find(bytes);
        if (it != cache->idle.end()) {
            void* block = it->second;
            cache->idle.erase(it);
            cache->idle_bytes -= bytes;
            ++cache->hits;
            return block;
        }
        ++cache->misses;
    }
    return new_block(bytes);
}

void give_back(void* block, size_t bytes) {
    {
        std::lock_guard<std::mutex> lock(cache->mutex);
        if (cache->idle_bytes + bytes <= cache->limit) {
            cache->idle.emplace(bytes, block);
            cache->idle_bytes += bytes;
            return;
        }
    }
    std::free(block);
}

struct Owned {
    DLManagedTensor managed;  // first member: the DLManagedTensor* is the Owned*
    int64_t shape[1];
    int64_t stride[1];
    size_t bytes;
};

void delete_owned(DLManagedTensor* managed) {
    Owned* owned = reinterpret_cast<Owned*>(managed);
    give_back(managed->dl_tensor.data, owned->bytes);
    delete owned;
}

void capsule_destructor(PyObject* capsule) {  // only a capsule torch never consumed owns a block
    if (!PyCapsule_IsValid(capsule, "dltensor")) return;
    auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
    if (managed) managed->deleter(managed);
}

PyObject* empty(PyObject*, PyObject* args) {
    Py_ssize_t requested;
    if (!PyArg_ParseTuple(args, "n", &requested)) return nullptr;
    if (requested <= 0) {
        PyErr_SetString(PyExc_ValueError, "empty: need a positive number of bytes");
        return nullptr;
    }
    static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t bytes = (static_cast<size_t>(requested) + page - 1) / page * page;
    void* block = take(bytes);
    if (block == nullptr) return PyErr_NoMemory();
    Owned* owned = new (std::nothrow) Owned{};
    if (owned == nullptr) {
        give_back(block, bytes);
        return PyErr_NoMemory();
    }
    owned->bytes = bytes;
    owned->shape[0] = static_cast<int64_t>(requested);
    owned->stride[0] = 1;
    DLTensor& t = owned->managed.dl_tensor;
    t.data = block;
    t.device = {kDLCPU, 0};
    t.ndim = 1;
    t.dtype = {kDLUInt, 8, 1};
    t.shape = owned->shape;
    t.strides = owned->stride;
    t.byte_offset = 0;
    owned->managed.manager_ctx = nullptr;
    owned->managed.deleter = delete_owned;
    PyObject* capsule = PyCapsule_New(&owned->managed, "dltensor", capsule_destructor);
    if (capsule == nullptr) delete_owned(&owned->managed);
    return capsule;
}

PyObject* set_limit(PyObject*, PyObject* args) {
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "n", &limit)) return nullptr;
    if (limit < 0) {
        PyErr_SetString(PyExc_ValueError, "set_limit: need a limit >= 0 bytes");
        return nullptr;
    }
    std::lock_guard<std::mutex> lock(cache->mutex);
    cache->limit = static_cast<size_t>(limit);
    Py_RETURN_NONE;
}

PyObject* release(PyObject*, PyObject*) {
    std::multimap<size_t, void*> idle;
    {
        std::lock_guard<std::mutex> lock(cache->mutex);
        idle.swap(cache->idle);
        cache->idle_bytes = 0;
    }
    size_t freed = 0;
    for (const auto& [bytes, block] : idle) {
        std::free(block);
        freed += bytes;
    }
    return PyLong_FromSize_t(freed);
}

PyObject* info(PyObject*, PyObject*) {
    std::lock_guard<std::mutex> lock(cache->mutex);
    return Py_BuildValue("{s:n,s:n,s:n,s:K,s:K}", "idle_bytes", cache->idle_bytes,
                         "idle_blocks", static_cast<Py_ssize_t>(cache->idle.size()), "limit",
                         cache->limit, "hits", static_cast<unsigned long long>(cache->hits),
                         "misses", static_cast<unsigned long long>(cache->misses));
}

PyMethodDef methods[] = {
    {"empty", empty, METH_VARARGS,
     "empty(nbytes) -> DLPack capsule of a 1-D uint8 CPU tensor, from the cache when a block of "
     "that (page-rounded) size is idle."},
    {"set_limit", set_limit, METH_VARARGS, "set_limit(bytes): most idle bytes kept for reuse."},
    {"release", release, METH_NOARGS, "release() -> bytes freed: every idle block."},
    {"info", info, METH_NOARGS, "info() -> dict of idle_bytes, idle_blocks, limit, hits, misses."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, "_outputpool",
                      "Cached host memory for TASD outputs (see _outputpool.cpp).", -1, methods};

}  // namespace

PyMODINIT_FUNC PyInit__outputpool(void) {
    static bool registered = false;
    if (!registered) {
        pthread_atfork(nullptr, nullptr, reset_after_fork);
        registered = true;
    }
    return PyModule_Create(&module);
}
