/* aiobs._speedups: the hot paths of @observe and of a recorded OpenAI chat call, in C.
 *
 * ObservedFunction is the @observe wrapper of a plain (synchronous) function. It does what the
 * pure-Python wrapper (aiobs.observe._wrap_function_python) does, step for step, and calls back
 * into the same Python helpers for everything outside the common case (arguments or a result
 * that need a snapshot, an OpenTelemetry parent, a full or released buffer, the user's
 * exception, aiobs's own errors). What C saves is the wrapper's frame, the packing of positional
 * and keyword arguments and their forwarding (the call is passed on with vectorcall), and the
 * interpreter's work on each step. Its open() and close() do the same steps for the Python
 * wrapper of a coroutine function, around its await.
 *
 * SpanIds and TraceIds are aiobs._ids's sources of span and trace ids; the wrapper takes an id
 * from them without a call while they are the configured sources.
 *
 * read_chat_completion is aiobs.providers.openai_chat's one-pass read of the common OpenAI chat
 * completion, reading the SDK models' __dict__ and pydantic's slots directly; the tests hold it
 * and the Python reader to the general reader's results.
 *
 * start_call and complete_call open a provider call (aiobs.providers.call.LLMCall.start) and
 * record one that returned normally (LLMCall.complete), with plain_json writing its request and
 * response as JSON and find_callsite walking to the program's frame; the Python methods stay,
 * and tests/providers/test_complete_call.py holds both to the same documents.
 *
 * The record buffered is the same 13-item tuple (aiobs._records.SpanRecord). The module is
 * optional: when it is not built, or AIOBS_PURE_PYTHON=1, aiobs uses its Python wrappers and id
 * sources, and tests/test_observe_paths.py holds the C and Python wrappers to the same records.
 * It relies on the GIL (hatch_build.py does not build it for free-threaded CPython).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h>
#endif
#if PY_VERSION_HEX >= 0x030C0000
#define SLOT_OBJECT Py_T_OBJECT_EX
#else
#include <structmember.h>
#define SLOT_OBJECT T_OBJECT_EX
#endif

/* -- what setup() hands over: aiobs's context variables, clocks and helpers ------------------- */

static PyObject *session_var;     /* aiobs._session.session_var */
static PyObject *span_var;        /* aiobs._context.span_var */
static PyObject *default_slot;    /* aiobs._session.default (its .session) */
static PyObject *ids_dict;        /* aiobs._ids.__dict__: new_span_id, new_trace_id, monotonic_ns */
static PyObject *otel_dict;       /* aiobs._otel_parent.__dict__: current */
static PyObject *otel_parent;     /* aiobs._otel_parent.otel_parent */
static PyObject *capture_inputs;  /* aiobs._recording.capture_inputs */
static PyObject *capture_result;  /* aiobs._recording.capture_result */
static PyObject *append_error;    /* aiobs._recording.append_error */
static PyObject *report_error;    /* aiobs._guard.report_internal_error */
static PyObject *big_int_pos;     /* 1 << 64 */
static PyObject *big_int_neg;     /* -(1 << 64) */
static PyObject *perf_counter_ns; /* time.perf_counter_ns: read here directly (Linux) */

/* interned names */
static PyObject *s_session, *s_new_span_id, *s_new_trace_id, *s_monotonic_ns, *s_current;
static PyObject *s_buffer, *s_settings, *s_capturer, *s_fast_items, *s_fast_string, *s_places;
static PyObject *s_records, *s_released, *s_reject, *s_reattach, *s_pop;
static PyObject *s_starting, *s_recording;

#define RECORD_WIDTH 13

/* An attribute kept in a __slots__ slot of one exact class, read straight from the instance;
 * any other class (a subclass, a stand-in in a test), or an unset slot, goes through getattr. */
typedef struct {
    PyObject *name;
    PyTypeObject *type; /* NULL: always getattr */
    Py_ssize_t offset;
} Slot;

static Slot slot_default_session, slot_session_buffer, slot_session_records,
    slot_session_released, slot_buffer_settings, slot_buffer_places, slot_capturer_fast_items,
    slot_capturer_fast_string;

static int
slot_init(Slot *slot, PyObject *type, PyObject *name)
{
    Py_CLEAR(slot->type);
    slot->name = name;
    slot->offset = -1;
    if (!PyType_Check(type)) {
        return 0;
    }
    PyObject *descr = PyObject_GetAttr(type, name);
    if (descr == NULL) {
        return -1;
    }
    if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type == SLOT_OBJECT) {
            slot->type = (PyTypeObject *)Py_NewRef(type);
            slot->offset = member->offset;
        }
    }
    Py_DECREF(descr);
    return 0;
}

static PyObject *
slot_get(Slot *slot, PyObject *obj)
{
    if (Py_TYPE(obj) == slot->type) {
        PyObject *value = *(PyObject **)((char *)obj + slot->offset);
        if (value != NULL) {
            return Py_NewRef(value);
        }
    }
    return PyObject_GetAttr(obj, slot->name);
}

typedef struct {
    PyObject_HEAD
    PyObject *fn;       /* the decorated function */
    PyObject *info;     /* its aiobs._records.FunctionInfo */
    PyObject *static_;  /* info.static, the record's first item */
    int keep_args;
    int keep_result;
    PyObject *dict;     /* __dict__: what functools.update_wrapper sets */
    PyObject *weakrefs;
    vectorcallfunc vectorcall;
} Observed;

/* -- small helpers --------------------------------------------------------------------------- */

/* A value of the ids or otel module's namespace, looked up on each call (tests swap them). */
static PyObject *
namespace_get(PyObject *dict, PyObject *name)
{
    PyObject *value = PyDict_GetItemWithError(dict, name); /* borrowed */
    if (value == NULL && !PyErr_Occurred()) {
        PyErr_Format(PyExc_AttributeError, "aiobs: %U is missing", name);
    }
    return value;
}

/* CLOCK_MONOTONIC in nanoseconds, which time.perf_counter_ns reads on Linux, while that is
 * aiobs._ids.monotonic_ns; -1 when another clock is configured (or not on Linux). */
static long long
direct_clock_ns(PyObject *clock)
{
#if defined(__linux__)
    struct timespec now;
    if (clock == perf_counter_ns && clock_gettime(CLOCK_MONOTONIC, &now) == 0) {
        return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
    }
#endif
    return -1;
}

/* aiobs._ids.monotonic_ns(), read directly where it can be (*direct_ns is then the reading,
 * else -1). */
static PyObject *
clock_now(long long *direct_ns)
{
    PyObject *clock = namespace_get(ids_dict, s_monotonic_ns);
    if (clock == NULL) {
        return NULL;
    }
    *direct_ns = direct_clock_ns(clock);
    return *direct_ns >= 0 ? PyLong_FromLongLong(*direct_ns) : PyObject_CallNoArgs(clock);
}

/* An int that a record keeps by reference: -(1 << 64) < value < 1 << 64. -1 on error. */
static int
plain_int(PyObject *value)
{
    int overflow = 0;
    long long small = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (small == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (!overflow) {
        return 1;
    }
    int below = PyObject_RichCompareBool(value, big_int_pos, Py_LT);
    if (below <= 0) {
        return below;
    }
    return PyObject_RichCompareBool(big_int_neg, value, Py_LT);
}

/* The plain-value test of aiobs._recording.capture_inputs, for one value. -1 on error. */
static int
plain_value(PyObject *value, Py_ssize_t limit)
{
    PyTypeObject *kind = Py_TYPE(value);
    if (kind == &PyUnicode_Type) {
        return PyUnicode_GET_LENGTH(value) <= limit;
    }
    if (kind == &PyLong_Type) {
        return plain_int(value);
    }
    if (kind == &PyFloat_Type) {
        return isfinite(PyFloat_AS_DOUBLE(value)) != 0;
    }
    return kind == &PyBool_Type || value == Py_None;
}

static int
read_ssize(Slot *slot, PyObject *owner, Py_ssize_t *out)
{
    PyObject *value = slot_get(slot, owner);
    if (value == NULL) {
        return -1;
    }
    *out = PyLong_AsSsize_t(value);
    Py_DECREF(value);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* The raised exception, taken out of the error indicator, normalized, with its traceback. */
static PyObject *
take_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback != NULL && value != NULL) {
        PyException_SetTraceback(value, traceback);
    }
    Py_XDECREF(type);
    Py_XDECREF(traceback);
    return value;
#endif
}

static void
restore_exception(PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc,
                  PyException_GetTraceback(exc));
#endif
}

/* aiobs's own error, as the Python wrapper's `except Exception` treats it: reported (logged, or
 * raised under the tests) and 0 returned; -1 with the error set when it must propagate (a
 * BaseException that is not an Exception, or report_internal_error raising it). */
static int
contain_internal_error(PyObject *what)
{
    if (!PyErr_ExceptionMatches(PyExc_Exception)) {
        return -1;
    }
    PyObject *exc = take_exception();
    PyObject *reported = PyObject_CallFunctionObjArgs(report_error, what, exc, NULL);
    Py_DECREF(exc);
    if (reported == NULL) {
        return -1;
    }
    Py_DECREF(reported);
    return 0;
}

/* RecordBuffer.admit: take a place and buffer the record, or count it as dropped. */
static int
admit(PyObject *session, PyObject *buffer, PyObject *record)
{
    PyObject *places = slot_get(&slot_buffer_places, buffer);
    if (places == NULL) {
        return -1;
    }
    int taken;
    if (PyByteArray_CheckExact(places)) {
        Py_ssize_t free_places = PyByteArray_GET_SIZE(places);
        taken = free_places > 0;
        if (taken && PyByteArray_Resize(places, free_places - 1) < 0) {
            Py_DECREF(places);
            return -1;
        }
    }
    else {
        PyObject *popped = PyObject_CallMethodNoArgs(places, s_pop);
        taken = popped != NULL;
        Py_XDECREF(popped);
        if (!taken) {
            if (!PyErr_ExceptionMatches(PyExc_IndexError)) {
                Py_DECREF(places);
                return -1;
            }
            PyErr_Clear();
        }
    }
    Py_DECREF(places);
    if (!taken) {
        PyObject *done = PyObject_CallMethodOneArg(buffer, s_reject, session);
        Py_XDECREF(done);
        return done == NULL ? -1 : 0;
    }
    PyObject *records = slot_get(&slot_session_records, session);
    if (records == NULL) {
        return -1;
    }
    int failed;
    if (PyList_CheckExact(records)) {
        Py_ssize_t end = PyList_GET_SIZE(records);
        failed = PyList_SetSlice(records, end, end, record) < 0;
    }
    else {
        PyObject *done = PyObject_CallMethod(records, "extend", "O", record);
        failed = done == NULL;
        Py_XDECREF(done);
    }
    Py_DECREF(records);
    if (failed) {
        return -1;
    }
    PyObject *released = slot_get(&slot_session_released, session);
    if (released == NULL) {
        return -1;
    }
    int late = PyObject_IsTrue(released);
    Py_DECREF(released);
    if (late < 0) {
        return -1;
    }
    if (late) {
        PyObject *done = PyObject_CallMethodOneArg(buffer, s_reattach, session);
        Py_XDECREF(done);
        return done == NULL ? -1 : 0;
    }
    return 0;
}

/* -- span ids: aiobs._ids's Weyl sequence, one uint64 addition per id ---------------------------- */

typedef struct {
    PyObject_HEAD
    uint64_t next;
    uint64_t step;
    vectorcallfunc vectorcall;
} SpanIds;

static PyTypeObject SpanIdsType;

static PyObject *
span_ids_take(PyObject *source)
{
    SpanIds *self = (SpanIds *)source;
    uint64_t id = self->next; /* one step, under the GIL: two threads never get the same id */
    self->next = id + self->step; /* modulo 2**64 */
    return PyLong_FromUnsignedLongLong(id);
}

/* Whether a call of an id source has no arguments, as it must; a TypeError if it has some. */
static int
no_arguments(PyObject *source, size_t nargsf, PyObject *kwnames)
{
    if (PyVectorcall_NARGS(nargsf) != 0 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_Format(PyExc_TypeError, "%s() takes no arguments", Py_TYPE(source)->tp_name);
        return 0;
    }
    return 1;
}

/* aiobs._ids's current source of ids called `name`: taken from without a call when it is of
 * `type`, else called. */
static PyObject *
id_from(PyObject *name, PyTypeObject *type, PyObject *(*take)(PyObject *))
{
    PyObject *source = namespace_get(ids_dict, name);
    if (source == NULL) {
        return NULL;
    }
    if (Py_IS_TYPE(source, type)) {
        return take(source);
    }
    return PyObject_CallNoArgs(source);
}

static PyObject *
span_ids_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    return no_arguments(callable, nargsf, kwnames) ? span_ids_take(callable) : NULL;
}

/* Unsigned 64-bit words, each checked: a negative or larger int is an OverflowError. */
static int
read_words(PyObject *const *values, unsigned long long *words, int count)
{
    for (int i = 0; i < count; i++) {
        words[i] = PyLong_AsUnsignedLongLong(values[i]);
        if (words[i] == (unsigned long long)-1 && PyErr_Occurred()) {
            return -1;
        }
    }
    return 0;
}

static PyObject *
span_ids_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *values[2];
    unsigned long long words[2];
    static char *names[] = {"start", "step", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!:SpanIds", names, &PyLong_Type,
                                     &values[0], &PyLong_Type, &values[1]) ||
        read_words(values, words, 2) < 0) {
        return NULL;
    }
    unsigned long long start = words[0], step = words[1];
    SpanIds *self = (SpanIds *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->next = start;
        self->step = step;
        self->vectorcall = span_ids_vectorcall;
    }
    return (PyObject *)self;
}

static PyTypeObject SpanIdsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aiobs._speedups.SpanIds",
    .tp_doc = "SpanIds(start, step)() -> start, start + step, ... modulo 2**64 (aiobs._ids).",
    .tp_basicsize = sizeof(SpanIds),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = span_ids_new,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(SpanIds, vectorcall),
};


/* -- trace ids: random 128-bit ints from xoshiro256** (Blackman and Vigna), never 0 --------------- */

typedef struct {
    PyObject_HEAD
    uint64_t state[4];
    vectorcallfunc vectorcall;
} TraceIds;

static PyTypeObject TraceIdsType;

static inline uint64_t
rotate_left(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t
xoshiro_next(uint64_t *s)
{
    uint64_t result = rotate_left(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotate_left(s[3], 45);
    return result;
}

static PyObject *
trace_ids_take(PyObject *source)
{
    TraceIds *self = (TraceIds *)source;
    unsigned char bytes[16]; /* little-endian: low word, then high word */
    uint64_t low = xoshiro_next(self->state), high = xoshiro_next(self->state);
    if ((low | high) == 0) {
        low = 1; /* 0 is W3C's invalid trace id */
    }
    for (int i = 0; i < 8; i++) {
        bytes[i] = (unsigned char)(low >> (8 * i));
        bytes[8 + i] = (unsigned char)(high >> (8 * i));
    }
#if PY_VERSION_HEX >= 0x030D0000
    return PyLong_FromUnsignedNativeBytes(bytes, 16, Py_ASNATIVEBYTES_LITTLE_ENDIAN);
#else
    return _PyLong_FromByteArray(bytes, 16, 1, 0);
#endif
}

static PyObject *
trace_ids_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    return no_arguments(callable, nargsf, kwnames) ? trace_ids_take(callable) : NULL;
}

static PyObject *
trace_ids_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *values[4];
    unsigned long long seed[4];
    static char *names[] = {"a", "b", "c", "d", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!O!O!:TraceIds", names, &PyLong_Type,
                                     &values[0], &PyLong_Type, &values[1], &PyLong_Type,
                                     &values[2], &PyLong_Type, &values[3]) ||
        read_words(values, seed, 4) < 0) {
        return NULL;
    }
    if ((seed[0] | seed[1] | seed[2] | seed[3]) == 0) {
        PyErr_SetString(PyExc_ValueError, "TraceIds needs a seed that is not all zero");
        return NULL;
    }
    TraceIds *self = (TraceIds *)type->tp_alloc(type, 0);
    if (self != NULL) {
        for (int i = 0; i < 4; i++) { /* spread each word over the state (splitmix64) */
            uint64_t z = seed[i] + 0x9E3779B97F4A7C15ULL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
            self->state[i] = z ^ (z >> 31);
        }
        if ((self->state[0] | self->state[1] | self->state[2] | self->state[3]) == 0) {
            self->state[0] = 1;
        }
        self->vectorcall = trace_ids_vectorcall;
    }
    return (PyObject *)self;
}

static PyTypeObject TraceIdsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aiobs._speedups.TraceIds",
    .tp_doc = "TraceIds(a, b, c, d)() -> a random 128-bit int, never 0 (seeded by aiobs._ids).\n"
              "The four 64-bit seed words go through splitmix64 into xoshiro256**'s state.",
    .tp_basicsize = sizeof(TraceIds),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = trace_ids_new,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(TraceIds, vectorcall),
};


/* -- the call -------------------------------------------------------------------------------- */

/* What the span start computes (the Python wrapper's first try block). */
typedef struct {
    PyObject *span_id, *parent_id, *trace_id, *code, *lasti, *args, *kwargs, *buffer, *capturer;
    PyObject *token, *start;
    long long start_ns; /* the start read directly, else -1 */
} Start;

static void
start_clear(Start *s)
{
    Py_CLEAR(s->span_id);
    Py_CLEAR(s->parent_id);
    Py_CLEAR(s->trace_id);
    Py_CLEAR(s->code);
    Py_CLEAR(s->lasti);
    Py_CLEAR(s->args);
    Py_CLEAR(s->kwargs);
    Py_CLEAR(s->buffer);
    Py_CLEAR(s->capturer);
    Py_CLEAR(s->token);
    Py_CLEAR(s->start);
}

/* buffer.settings.capturer. Settings are frozen, so the capturer of the settings seen last is
 * kept with them (a reference to both) and the attribute read only when the settings change. */
static PyObject *cached_settings, *cached_capturer;

static PyObject *
capturer_of(PyObject *buffer)
{
    PyObject *settings = slot_get(&slot_buffer_settings, buffer);
    if (settings == NULL) {
        return NULL;
    }
    if (settings == cached_settings) {
        Py_DECREF(settings);
        return Py_NewRef(cached_capturer);
    }
    PyObject *capturer = PyObject_GetAttr(settings, s_capturer);
    if (capturer == NULL) {
        Py_DECREF(settings);
        return NULL;
    }
    PyObject *old_settings = cached_settings, *old_capturer = cached_capturer;
    cached_settings = settings; /* takes the reference */
    cached_capturer = Py_NewRef(capturer);
    Py_XDECREF(old_settings);
    Py_XDECREF(old_capturer);
    return capturer;
}

/* Whether something is set in OpenTelemetry's context: aiobs._otel_parent.current(), a
 * ContextVar's bound get() read here directly, or any other getter called. -1 on error. */
static int
otel_context_set(PyObject *current)
{
    PyObject *context = NULL;
    if (PyCFunction_Check(current) && PyContextVar_CheckExact(PyCFunction_GET_SELF(current)) &&
        strcmp(((PyCFunctionObject *)current)->m_ml->ml_name, "get") == 0) {
        if (PyContextVar_Get(PyCFunction_GET_SELF(current), NULL, &context) < 0) {
            return -1;
        }
        if (context == NULL) {
            PyErr_SetString(PyExc_LookupError, "aiobs: OpenTelemetry's context has no value");
            return -1;
        }
    }
    else {
        context = PyObject_CallNoArgs(current);
        if (context == NULL) {
            return -1;
        }
    }
    int set = PyObject_IsTrue(context);
    Py_DECREF(context);
    return set;
}

/* The caller's code object and instruction offset (what frame.f_code and frame.f_lasti give). */
static int
read_callsite(Start *s, int back)
{
    PyFrameObject *frame = PyEval_GetFrame(); /* borrowed: the frame that called the wrapper */
    PyFrameObject *owned = NULL;
    if (frame != NULL && back) { /* a coroutine's wrapper: the frame that drives it */
        owned = PyFrame_GetBack(frame);
        frame = owned;
    }
    if (frame == NULL) {
        s->code = Py_NewRef(Py_None);
        s->lasti = Py_NewRef(Py_None);
        return 0;
    }
    s->code = (PyObject *)PyFrame_GetCode(frame);
#if PY_VERSION_HEX >= 0x030B0000
    s->lasti = PyLong_FromLong(PyFrame_GetLasti(frame));
#else
    s->lasti = PyObject_GetAttrString((PyObject *)frame, "f_lasti");
#endif
    Py_XDECREF(owned);
    return s->lasti == NULL ? -1 : 0;
}

/* The arguments as the record keeps them, from the call's vector: packed into the record's own
 * tuple and dict, then read as a Python wrapper's (read_packed_arguments, below). */
static int read_packed_arguments(Observed *self, Start *s, PyObject *args, PyObject *kwargs);

static int
read_arguments(Observed *self, Start *s, PyObject *const *args, Py_ssize_t nargs,
               PyObject *kwnames)
{
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    PyObject *packed = PyTuple_New(nargs);
    PyObject *kwargs = packed == NULL ? NULL : PyDict_New();
    if (kwargs == NULL) {
        Py_XDECREF(packed);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyTuple_SET_ITEM(packed, i, Py_NewRef(args[i]));
    }
    int status = 0;
    for (Py_ssize_t i = 0; status == 0 && i < nkw; i++) {
        status = PyDict_SetItem(kwargs, PyTuple_GET_ITEM(kwnames, i), args[nargs + i]);
    }
    if (status == 0) {
        status = read_packed_arguments(self, s, packed, kwargs);
    }
    Py_DECREF(packed);
    Py_DECREF(kwargs);
    return status;
}

/* The arguments as the record keeps them, from a tuple and dict made for this call (a Python
 * wrapper's own, or read_arguments'): kept by reference when plain (capture_inputs' test), else
 * capture_inputs' snapshot. */
static int
read_packed_arguments(Observed *self, Start *s, PyObject *args, PyObject *kwargs)
{
    if (!PyTuple_CheckExact(args) || !PyDict_CheckExact(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "aiobs: open() takes the call's args tuple and dict");
        return -1;
    }
    Py_ssize_t nargs = PyTuple_GET_SIZE(args), nkw = PyDict_GET_SIZE(kwargs);
    Py_ssize_t most, limit;
    if (read_ssize(&slot_capturer_fast_items, s->capturer, &most) < 0 ||
        read_ssize(&slot_capturer_fast_string, s->capturer, &limit) < 0) {
        return -1;
    }
    int plain = nargs <= most && nkw <= most;
    for (Py_ssize_t i = 0; plain == 1 && i < nargs; i++) {
        plain = plain_value(PyTuple_GET_ITEM(args, i), limit);
    }
    Py_ssize_t position = 0;
    PyObject *key, *value;
    while (plain == 1 && PyDict_Next(kwargs, &position, &key, &value)) {
        plain = PyUnicode_GET_LENGTH(key) <= limit ? plain_value(value, limit) : 0;
    }
    if (plain < 0) {
        return -1;
    }
    if (plain) { /* the wrapper's own tuple and dict, made for this call */
        s->args = Py_NewRef(args);
        s->kwargs = Py_NewRef(nkw ? kwargs : Py_None);
        return 0;
    }
    PyObject *kept =
        PyObject_CallFunctionObjArgs(capture_inputs, s->capturer, self->info, args, kwargs, NULL);
    if (kept == NULL) {
        return -1;
    }
    if (!PyTuple_CheckExact(kept) || PyTuple_GET_SIZE(kept) != 2) {
        Py_DECREF(kept);
        PyErr_SetString(PyExc_TypeError, "aiobs: capture_inputs must return a pair");
        return -1;
    }
    s->args = Py_NewRef(PyTuple_GET_ITEM(kept, 0));
    s->kwargs = Py_NewRef(PyTuple_GET_ITEM(kept, 1));
    Py_DECREF(kept);
    return 0;
}

/* Open the span: ids, parent, callsite, arguments, then the context variable and the clock.
 * The arguments are the call's vector (the C wrapper) or, with packed_args set, a Python
 * wrapper's own tuple and dict (the coroutine wrapper; the callsite is then its caller's). */
/* The parent and trace of a span starting here: aiobs's current span, else OpenTelemetry's when
 * something is set there, else none and a new trace. New references; -1 with an error. */
static int
span_parent(PyObject **parent_id, PyObject **trace_id)
{
    PyObject *parent = NULL;
    if (PyContextVar_Get(span_var, Py_None, &parent) < 0) {
        return -1;
    }
    if (parent == Py_None) {
        PyObject *current = namespace_get(otel_dict, s_current);
        if (current == NULL) {
            Py_DECREF(parent);
            return -1;
        }
        if (current != Py_None) {
            int set = otel_context_set(current);
            if (set < 0) {
                Py_DECREF(parent);
                return -1;
            }
            if (set) { /* something is set in OpenTelemetry's context */
                Py_SETREF(parent, PyObject_CallNoArgs(otel_parent));
                if (parent == NULL) {
                    return -1;
                }
            }
        }
    }
    if (parent == Py_None) { /* a root: it starts a new trace */
        Py_DECREF(parent);
        *parent_id = Py_NewRef(Py_None);
        *trace_id = id_from(s_new_trace_id, &TraceIdsType, trace_ids_take);
        return *trace_id == NULL ? -1 : 0;
    }
    if (!PyTuple_Check(parent) || PyTuple_GET_SIZE(parent) != 2) {
        Py_DECREF(parent);
        PyErr_SetString(PyExc_ValueError, "aiobs: the current span is not a (span, trace) pair");
        return -1;
    }
    *parent_id = Py_NewRef(PyTuple_GET_ITEM(parent, 0));
    *trace_id = Py_NewRef(PyTuple_GET_ITEM(parent, 1));
    Py_DECREF(parent);
    return 0;
}

static int
start_span(Observed *self, PyObject *session, Start *s, PyObject *const *args,
           Py_ssize_t nargs, PyObject *kwnames, PyObject *packed_args, PyObject *packed_kwargs)
{
    s->span_id = id_from(s_new_span_id, &SpanIdsType, span_ids_take);
    if (s->span_id == NULL) {
        return -1;
    }
    if (span_parent(&s->parent_id, &s->trace_id) < 0) {
        return -1;
    }
    if (read_callsite(s, packed_args != NULL) < 0) {
        return -1;
    }
    s->buffer = slot_get(&slot_session_buffer, session);
    if (s->buffer == NULL) {
        return -1;
    }
    s->capturer = capturer_of(s->buffer);
    if (s->capturer == NULL) {
        return -1;
    }
    if (self->keep_args) {
        int read = packed_args != NULL
                       ? read_packed_arguments(self, s, packed_args, packed_kwargs)
                       : read_arguments(self, s, args, nargs, kwnames);
        if (read < 0) {
            return -1;
        }
    }
    else {
        s->args = Py_NewRef(Py_None);
        s->kwargs = Py_NewRef(Py_None);
    }
    PyObject *context = PyTuple_Pack(2, s->span_id, s->trace_id);
    if (context == NULL) {
        return -1;
    }
    s->token = PyContextVar_Set(span_var, context);
    Py_DECREF(context);
    if (s->token == NULL) {
        return -1;
    }
    s->start = clock_now(&s->start_ns);
    if (s->start == NULL) {
        return -1;
    }
    return 0;
}

/* The call's duration, as an int of nanoseconds; 0 (and the error reported) if the clock fails. */
static PyObject *
duration_since(PyObject *start, long long start_ns)
{
    PyObject *clock = namespace_get(ids_dict, s_monotonic_ns), *duration = NULL;
    long long end_ns = clock == NULL ? -1 : direct_clock_ns(clock);
    if (start_ns >= 0 && end_ns >= 0) { /* both read directly: no Python int in between */
        return PyLong_FromLongLong(end_ns - start_ns);
    }
    PyObject *end = clock == NULL ? NULL : PyObject_CallNoArgs(clock);
    duration = end == NULL ? NULL : PyNumber_Subtract(end, start);
    Py_XDECREF(end);
    if (duration == NULL) {
        if (contain_internal_error(s_recording) < 0) {
            return NULL;
        }
        duration = PyLong_FromLong(0);
    }
    return duration;
}

static PyObject *
build_record(Observed *self, Start *s, PyObject *duration, PyObject *result)
{
    PyObject *record = PyTuple_New(RECORD_WIDTH);
    if (record == NULL) {
        return NULL;
    }
    PyObject *items[RECORD_WIDTH] = {
        self->static_, s->span_id,  s->parent_id, s->trace_id, s->start, duration, s->code,
        s->lasti,      s->args,     s->kwargs,    result,      Py_None,  Py_None,
    };
    for (Py_ssize_t i = 0; i < RECORD_WIDTH; i++) {
        PyTuple_SET_ITEM(record, i, Py_NewRef(items[i]));
    }
    return record;
}

/* The result as the record keeps it: itself when plain, else capture_result's snapshot. */
static PyObject *
kept_result(Start *s, PyObject *result)
{
    PyTypeObject *kind = Py_TYPE(result);
    int plain;
    if (result == Py_None || kind == &PyBool_Type) {
        plain = 1;
    }
    else if (kind == &PyUnicode_Type || kind == &PyLong_Type || kind == &PyFloat_Type) {
        Py_ssize_t limit;
        if (read_ssize(&slot_capturer_fast_string, s->capturer, &limit) < 0) {
            return NULL;
        }
        plain = plain_value(result, limit);
        if (plain < 0) {
            return NULL;
        }
    }
    else {
        plain = 0;
    }
    if (plain) {
        return Py_NewRef(result);
    }
    return PyObject_CallFunctionObjArgs(capture_result, s->capturer, result, NULL);
}

/* The span finished with `result`: build its record and buffer it. */
static int
record_result(Observed *self, PyObject *session, Start *s, PyObject *duration, PyObject *result)
{
    PyObject *kept = self->keep_result ? kept_result(s, result) : Py_NewRef(Py_None);
    if (kept == NULL) {
        return -1;
    }
    PyObject *record = build_record(self, s, duration, kept);
    Py_DECREF(kept);
    if (record == NULL) {
        return -1;
    }
    int status = admit(session, s->buffer, record);
    Py_DECREF(record);
    return status;
}

/* A start that failed: the span is no longer current, its parts are dropped, and aiobs's error
 * is reported (0: go on without recording) or left set to propagate (-1). */
static int
start_failed(Start *s)
{
    if (s->token != NULL) { /* the clock failed after the span was made current */
        PyObject *exc = take_exception();
        int reset = PyContextVar_Reset(span_var, s->token);
        restore_exception(exc);
        if (reset < 0) {
            PyErr_Clear(); /* the first error is the one reported */
        }
    }
    start_clear(s);
    return contain_internal_error(s_starting);
}

/* The call raised `error` (taken out of the error indicator): close the span and buffer it as
 * failed. 0, or -1 with aiobs's own error set (raised under the tests). Clears `s`. */
static int
finish_failed(Observed *self, PyObject *session, Start *s, PyObject *error)
{
    PyObject *duration = duration_since(s->start, s->start_ns);
    int reset = PyContextVar_Reset(span_var, s->token);
    if (duration == NULL || reset < 0) {
        Py_XDECREF(duration);
        start_clear(s);
        return -1;
    }
    PyObject *record = build_record(self, s, duration, Py_None);
    Py_DECREF(duration);
    start_clear(s);
    if (record == NULL) {
        return -1;
    }
    PyObject *done = PyObject_CallFunctionObjArgs(append_error, session, record, error, NULL);
    Py_DECREF(record);
    Py_XDECREF(done);
    return done == NULL ? -1 : 0;
}

/* The call returned `result`: close the span and buffer it. 0, or -1 with aiobs's own error
 * set (raised under the tests; otherwise it is reported here). Clears `s`. */
static int
finish_returned(Observed *self, PyObject *session, Start *s, PyObject *result)
{
    PyObject *duration = duration_since(s->start, s->start_ns);
    if (duration == NULL || PyContextVar_Reset(span_var, s->token) < 0) {
        Py_XDECREF(duration);
        start_clear(s);
        return -1;
    }
    int status = record_result(self, session, s, duration, result);
    Py_DECREF(duration);
    start_clear(s);
    if (status < 0 && contain_internal_error(s_recording) < 0) {
        return -1;
    }
    return 0;
}

static PyObject *
record_call(Observed *self, PyObject *session, PyObject *const *args, size_t nargsf,
            PyObject *kwnames)
{
    Start s = {0};
    if (start_span(self, session, &s, args, PyVectorcall_NARGS(nargsf), kwnames, NULL, NULL) < 0) {
        if (start_failed(&s) < 0) {
            return NULL;
        }
        return PyObject_Vectorcall(self->fn, args, nargsf, kwnames);
    }
    PyObject *result = PyObject_Vectorcall(self->fn, args, nargsf, kwnames);
    if (result == NULL) {
        PyObject *error = take_exception();
        if (finish_failed(self, session, &s, error) < 0) {
            Py_DECREF(error);
            return NULL;
        }
        restore_exception(error);
        return NULL;
    }
    if (finish_returned(self, session, &s, result) < 0) {
        Py_DECREF(result);
        return NULL;
    }
    return result;
}

/* The session a call records into (a new reference): this context's, else the process's
 * default, else None. */
static PyObject *
current_session(void)
{
    PyObject *session = NULL;
    if (PyContextVar_Get(session_var, Py_None, &session) < 0) {
        return NULL;
    }
    if (session != Py_None) {
        return session;
    }
    Py_DECREF(session);
    return slot_get(&slot_default_session, default_slot);
}

/* -- a span held open across awaits: what the coroutine wrapper gets from open() -------------- */

typedef struct {
    PyObject_HEAD
    PyObject *session;
    Start start;
    int closed;
} OpenCall;

static void
open_call_dealloc(OpenCall *self)
{
    Py_CLEAR(self->session);
    start_clear(&self->start);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject OpenCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aiobs._speedups.OpenCall",
    .tp_doc = "A call's span opened by ObservedFunction.open(), closed by its close().",
    .tp_basicsize = sizeof(OpenCall),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)open_call_dealloc,
};

/* open(args, kwargs) -> OpenCall or None: the span of a call a Python wrapper is about to make
 * (None: no session, or aiobs's own error reported; the call then runs unrecorded). */
static PyObject *
observed_open(PyObject *callable, PyObject *const *args, Py_ssize_t nargs)
{
    Observed *self = (Observed *)callable;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "open() takes the call's args tuple and kwargs dict");
        return NULL;
    }
    PyObject *session = current_session();
    if (session == NULL || session == Py_None) {
        return session;
    }
    OpenCall *span = PyObject_New(OpenCall, &OpenCallType);
    if (span == NULL) {
        Py_DECREF(session);
        return NULL;
    }
    memset(&span->start, 0, sizeof(Start));
    span->session = session;
    span->closed = 0;
    if (start_span(self, session, &span->start, NULL, 0, NULL, args[0], args[1]) < 0) {
        if (start_failed(&span->start) < 0) { /* raised under the tests */
            PyObject *exc = take_exception();
            Py_DECREF(span);
            restore_exception(exc);
            return NULL;
        }
        Py_DECREF(span);
        Py_RETURN_NONE;
    }
    return (PyObject *)span;
}

/* close(span, result, error): the call returned `result` (error None) or raised `error`. */
static PyObject *
observed_close(PyObject *callable, PyObject *const *args, Py_ssize_t nargs)
{
    Observed *self = (Observed *)callable;
    if (nargs != 3 || !Py_IS_TYPE(args[0], &OpenCallType)) {
        PyErr_SetString(PyExc_TypeError, "close() takes the span open() gave, a result, an error");
        return NULL;
    }
    OpenCall *span = (OpenCall *)args[0];
    if (span->closed) {
        PyErr_SetString(PyExc_RuntimeError, "aiobs: this span is already closed");
        return NULL;
    }
    span->closed = 1;
    int status = args[2] == Py_None
                     ? finish_returned(self, span->session, &span->start, args[1])
                     : finish_failed(self, span->session, &span->start, args[2]);
    if (status < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
observed_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Observed *self = (Observed *)callable;
    PyObject *session = current_session();
    if (session == NULL) {
        return NULL;
    }
    if (session == Py_None) {
        Py_DECREF(session);
        return PyObject_Vectorcall(self->fn, args, nargsf, kwnames);
    }
    PyObject *result = record_call(self, session, args, nargsf, kwnames);
    Py_DECREF(session);
    return result;
}

/* -- the type: a callable that binds like a function ------------------------------------------ */

static PyObject *
observed_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *fn, *info, *static_;
    int keep_args, keep_result;
    static char *names[] = {"fn", "info", "static", "capture_args", "capture_result", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOpp:ObservedFunction", names, &fn, &info,
                                     &static_, &keep_args, &keep_result)) {
        return NULL;
    }
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "ObservedFunction needs a callable");
        return NULL;
    }
    Observed *self = (Observed *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->fn = Py_NewRef(fn);
    self->info = Py_NewRef(info);
    self->static_ = Py_NewRef(static_);
    self->keep_args = keep_args;
    self->keep_result = keep_result;
    self->vectorcall = observed_vectorcall;
    return (PyObject *)self;
}

static int
observed_traverse(Observed *self, visitproc visit, void *arg)
{
    Py_VISIT(self->fn);
    Py_VISIT(self->info);
    Py_VISIT(self->static_);
    Py_VISIT(self->dict);
    return 0;
}

static int
observed_clear(Observed *self)
{
    Py_CLEAR(self->fn);
    Py_CLEAR(self->info);
    Py_CLEAR(self->static_);
    Py_CLEAR(self->dict);
    return 0;
}

static void
observed_dealloc(Observed *self)
{
    PyObject_GC_UnTrack(self);
    if (self->weakrefs != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    observed_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Bound on an instance like a function (a method), itself on the class. */
static PyObject *
observed_get(PyObject *self, PyObject *obj, PyObject *type)
{
    if (obj == NULL || obj == Py_None) {
        return Py_NewRef(self);
    }
    return PyMethod_New(self, obj);
}

static PyObject *
observed_repr(PyObject *self)
{
    PyObject *name = PyObject_GetAttrString(self, "__qualname__");
    if (name == NULL) {
        PyErr_Clear();
        return PyUnicode_FromFormat("<observed function at %p>", self);
    }
    PyObject *text = PyUnicode_FromFormat("<function %S at %p>", name, self);
    Py_DECREF(name);
    return text;
}

/* Pickled by reference, as a module-level function is: by its qualified name. */
static PyObject *
observed_reduce(PyObject *self, PyObject *unused)
{
    return PyObject_GetAttrString(self, "__qualname__");
}

static PyGetSetDef observed_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL},
};

static PyMethodDef observed_methods[] = {
    {"__reduce__", observed_reduce, METH_NOARGS, NULL},
    {"open", (PyCFunction)(void (*)(void))observed_open, METH_FASTCALL,
     "open(args, kwargs) -> span or None: the span of a call about to be made (coroutines)."},
    {"close", (PyCFunction)(void (*)(void))observed_close, METH_FASTCALL,
     "close(span, result, error): the call returned result (error None) or raised error."},
    {NULL},
};

static PyTypeObject ObservedType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aiobs._speedups.ObservedFunction",
    .tp_doc = "A function decorated with @observe (see aiobs.observe).",
    .tp_basicsize = sizeof(Observed),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
                Py_TPFLAGS_METHOD_DESCRIPTOR,
    .tp_new = observed_new,
    .tp_dealloc = (destructor)observed_dealloc,
    .tp_traverse = (traverseproc)observed_traverse,
    .tp_clear = (inquiry)observed_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Observed, vectorcall),
    .tp_descr_get = observed_get,
    .tp_repr = observed_repr,
    .tp_dictoffset = offsetof(Observed, dict),
    .tp_weaklistoffset = offsetof(Observed, weakrefs),
    .tp_getset = observed_getset,
    .tp_methods = observed_methods,
};

/* -- the common OpenAI chat completion, read in one pass (aiobs.providers.openai_chat) ----------- */

static PyObject *plain_models;      /* aiobs.providers.openai_streams.PLAIN_MODELS (a set) */
static PyObject *scalar_types;      /* ... SCALARS: types whose values are kept as they are */
static PyObject *plain_model_class; /* ... plain_model_class(kind), for a class not yet known */
static PyObject *base_model;        /* pydantic.BaseModel */
static Slot slot_model_extra, slot_model_fields_set; /* BaseModel's __slots__, for subclasses */
static PyObject *s_extra, *s_fields_set, *s_dunder_dict, *s_choices, *s_message, *s_tool_calls,
    *s_function_call, *s_content, *s_usage, *s_model, *s_id, *s_text, *s_finish_reason,
    *s_finish_reasons, *s_prompt_tokens, *s_completion_tokens, *s_total_tokens,
    *s_prompt_details, *s_completion_details, *s_cached_tokens, *s_cache_write_tokens,
    *s_reasoning_tokens;

/* A slot of pydantic.BaseModel on an instance of any of its subclasses (the same offset). */
static PyObject *
model_slot(Slot *slot, PyObject *model)
{
    if (slot->type != NULL && PyObject_TypeCheck(model, slot->type)) {
        PyObject *value = *(PyObject **)((char *)model + slot->offset);
        if (value != NULL) {
            return Py_NewRef(value);
        }
    }
    return PyObject_GetAttr(model, slot->name);
}

/* model.__dict__ (a new reference), or NULL with an error; a dict is checked for. */
static PyObject *
model_dict(PyObject *model)
{
    PyObject *fields = PyObject_TypeCheck(model, (PyTypeObject *)base_model)
                           ? PyObject_GenericGetDict(model, NULL)
                           : PyObject_GetAttr(model, s_dunder_dict);
    if (fields != NULL && !PyDict_Check(fields)) {
        Py_DECREF(fields);
        PyErr_SetString(PyExc_TypeError, "aiobs: a model's __dict__ is not a dict");
        return NULL;
    }
    return fields;
}

/* fields.get(name) as a borrowed reference (None when missing); NULL on error. */
static PyObject *
field(PyObject *fields, PyObject *name)
{
    PyObject *value = PyDict_GetItemWithError(fields, name);
    if (value == NULL && !PyErr_Occurred()) {
        value = Py_None;
    }
    return value;
}

/* openai_streams.plain_fields: the set fields of a plain model, nested models as dicts; None
 * (a new reference) when the model is not plain; NULL on error. */
static PyObject *
plain_fields(PyObject *model)
{
    int known = PySet_Contains(plain_models, (PyObject *)Py_TYPE(model));
    if (known < 0) {
        return NULL;
    }
    if (!known) {
        PyObject *verdict = PyObject_CallOneArg(plain_model_class, (PyObject *)Py_TYPE(model));
        int plain = verdict == NULL ? -1 : PyObject_IsTrue(verdict);
        Py_XDECREF(verdict);
        if (plain <= 0) {
            return plain < 0 ? NULL : Py_NewRef(Py_None);
        }
    }
    PyObject *extra = model_slot(&slot_model_extra, model);
    int has_extra = extra == NULL ? -1 : PyObject_IsTrue(extra);
    Py_XDECREF(extra);
    if (has_extra != 0) {
        return has_extra < 0 ? NULL : Py_NewRef(Py_None);
    }
    PyObject *set_names = model_slot(&slot_model_fields_set, model);
    if (set_names == NULL) {
        return NULL;
    }
    PyObject *own = model_dict(model);
    PyObject *fields = own == NULL ? NULL : PyDict_New();
    if (fields == NULL) {
        Py_DECREF(set_names);
        Py_XDECREF(own);
        return NULL;
    }
    Py_ssize_t position = 0;
    PyObject *name, *item, *kept = NULL;
    int failed = 0, plain = 1;
    while (!failed && plain && PyDict_Next(own, &position, &name, &item)) {
        int is_set = PySequence_Contains(set_names, name);
        if (is_set <= 0) {
            failed = is_set < 0;
            continue;
        }
        int scalar = PySet_Contains(scalar_types, (PyObject *)Py_TYPE(item));
        if (scalar < 0) {
            failed = 1;
            break;
        }
        if (scalar) {
            kept = Py_NewRef(item);
        }
        else {
            kept = plain_fields(item);
            if (kept == NULL) {
                failed = 1;
                break;
            }
            if (kept == Py_None) {
                int a_model = PyObject_HasAttr(item, s_fields_set);
                if (a_model || PyList_Check(item) || PyDict_Check(item)) {
                    plain = 0; /* a model or container that is not plain: model_dump */
                    Py_CLEAR(kept);
                    break;
                }
                Py_SETREF(kept, Py_NewRef(item));
            }
        }
        failed = PyDict_SetItem(fields, name, kept) < 0;
        Py_CLEAR(kept);
    }
    Py_DECREF(set_names);
    Py_DECREF(own);
    if (failed || !plain) {
        Py_DECREF(fields);
        return failed ? NULL : Py_NewRef(Py_None);
    }
    return fields;
}

/* A token count as the one-pass read takes it: None, or a plain non-negative int. */
static int
plain_count(PyObject *value)
{
    if (value == Py_None) {
        return 1;
    }
    if (!PyLong_CheckExact(value)) {
        return 0;
    }
    int overflow = 0;
    long long small = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (small == -1 && PyErr_Occurred()) {
        return -1;
    }
    return overflow > 0 || (overflow == 0 && small >= 0);
}

/* openai_chat._chat_counts: the usage's counts in Usage order, or None (a new reference). */
static PyObject *
chat_counts(PyObject *usage)
{
    PyObject *prompt = field(usage, s_prompt_tokens), *completion = field(usage, s_completion_tokens);
    PyObject *total = field(usage, s_total_tokens);
    PyObject *cached = Py_None, *written = Py_None, *reasoning = Py_None;
    if (prompt == NULL || completion == NULL || total == NULL) {
        return NULL;
    }
    PyObject *details = field(usage, s_prompt_details);
    if (details == NULL) {
        return NULL;
    }
    if (details != Py_None) {
        if (!PyDict_CheckExact(details)) {
            Py_RETURN_NONE;
        }
        cached = field(details, s_cached_tokens);
        written = field(details, s_cache_write_tokens);
        if (cached == NULL || written == NULL) {
            return NULL;
        }
    }
    details = field(usage, s_completion_details);
    if (details == NULL) {
        return NULL;
    }
    if (details != Py_None) {
        if (!PyDict_CheckExact(details)) {
            Py_RETURN_NONE;
        }
        reasoning = field(details, s_reasoning_tokens);
        if (reasoning == NULL) {
            return NULL;
        }
    }
    PyObject *counts[6] = {prompt, completion, total, cached, reasoning, written};
    for (int i = 0; i < 6; i++) {
        int plain = plain_count(counts[i]);
        if (plain <= 0) {
            return plain < 0 ? NULL : Py_NewRef(Py_None);
        }
    }
    PyObject *summed = NULL;
    if (total == Py_None && (prompt != Py_None || completion != Py_None)) {
        PyObject *zero = PyLong_FromLong(0);
        if (zero == NULL) {
            return NULL;
        }
        summed = PyNumber_Add(prompt == Py_None ? zero : prompt,
                              completion == Py_None ? zero : completion);
        Py_DECREF(zero);
        if (summed == NULL) {
            return NULL;
        }
        total = summed;
    }
    PyObject *tuple = PyTuple_Pack(7, prompt, completion, total, cached, reasoning, written,
                                   Py_False);
    Py_XDECREF(summed);
    return tuple;
}

/* The message's text, or None; NULL on error; *tools set when the message holds tool calls. */
static PyObject *
message_text(PyObject *message, int *tools)
{
    *tools = 0;
    if (message == Py_None) {
        return Py_NewRef(Py_None);
    }
    PyObject *said = model_dict(message);
    if (said == NULL) {
        return NULL;
    }
    PyObject *calls = field(said, s_tool_calls), *function = field(said, s_function_call);
    PyObject *text = field(said, s_content);
    int any_calls = calls == NULL ? -1 : PyObject_IsTrue(calls);
    if (any_calls < 0 || function == NULL || text == NULL) {
        Py_DECREF(said);
        return NULL;
    }
    if (any_calls || function != Py_None) {
        *tools = 1; /* chat_outcome reads them */
        Py_DECREF(said);
        return Py_NewRef(Py_None);
    }
    if (!PyUnicode_Check(text) || PyUnicode_GET_LENGTH(text) == 0) {
        text = Py_None;
    }
    Py_INCREF(text);
    Py_DECREF(said);
    return text;
}

/* read_chat_completion(completion) -> (response, counts, model) or None: see openai_chat. */
static PyObject *
read_chat_completion(PyObject *module, PyObject *completion)
{
    if (plain_models == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "aiobs: setup_chat() was not called");
        return NULL;
    }
    PyObject *fields = model_dict(completion);
    if (fields == NULL) {
        return NULL;
    }
    PyObject *result = NULL, *text = NULL, *usage = NULL, *counts = NULL, *response = NULL;
    PyObject *choices = field(fields, s_choices);
    if (choices == NULL) {
        goto done;
    }
    if (!PyList_CheckExact(choices) || PyList_GET_SIZE(choices) != 1) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    PyObject *extra = model_slot(&slot_model_extra, completion);
    int has_extra = extra == NULL ? -1 : PyObject_IsTrue(extra);
    Py_XDECREF(extra);
    if (has_extra != 0) {
        result = has_extra < 0 ? NULL : Py_NewRef(Py_None);
        goto done;
    }
    PyObject *choice = model_dict(PyList_GET_ITEM(choices, 0));
    if (choice == NULL) {
        goto done;
    }
    PyObject *message = field(choice, s_message);
    int tools = 0;
    text = message == NULL ? NULL : message_text(message, &tools);
    if (text == NULL || tools) {
        result = text == NULL ? NULL : Py_NewRef(Py_None);
        Py_DECREF(choice);
        goto done;
    }
    PyObject *sent_usage = field(fields, s_usage);
    if (sent_usage == NULL) {
        Py_DECREF(choice);
        goto done;
    }
    if (sent_usage != Py_None) {
        usage = plain_fields(sent_usage);
        counts = usage == NULL || usage == Py_None ? NULL : chat_counts(usage);
        if (counts == NULL || counts == Py_None) {
            result = usage == NULL || (usage != Py_None && counts == NULL) ? NULL
                                                                           : Py_NewRef(Py_None);
            Py_DECREF(choice);
            goto done;
        }
    }
    else {
        usage = Py_NewRef(Py_None);
        counts = Py_NewRef(Py_None);
    }
    PyObject *model = field(fields, s_model), *ident = field(fields, s_id);
    PyObject *finish = field(choice, s_finish_reason);
    int finished = finish == NULL ? -1 : PyObject_IsTrue(finish);
    if (model == NULL || ident == NULL || finished < 0) {
        Py_DECREF(choice);
        goto done;
    }
    response = PyDict_New();
    if (response == NULL || PyDict_SetItem(response, s_id, ident) < 0 ||
        PyDict_SetItem(response, s_model, model) < 0 ||
        PyDict_SetItem(response, s_text, text) < 0 ||
        PyDict_SetItem(response, s_usage, usage) < 0) {
        Py_DECREF(choice);
        goto done;
    }
    if (finished) {
        PyObject *reasons = PyList_New(1);
        if (reasons == NULL) {
            Py_DECREF(choice);
            goto done;
        }
        PyList_SET_ITEM(reasons, 0, Py_NewRef(finish));
        int set = PyDict_SetItem(response, s_finish_reasons, reasons);
        Py_DECREF(reasons);
        if (set < 0) {
            Py_DECREF(choice);
            goto done;
        }
    }
    Py_DECREF(choice);
    result = PyTuple_Pack(3, response, counts, PyUnicode_Check(model) ? model : Py_None);
done:
    Py_DECREF(fields);
    Py_XDECREF(text);
    Py_XDECREF(usage);
    Py_XDECREF(counts);
    Py_XDECREF(response);
    return result;
}

static PyObject *
setup_chat(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"plain_models", "scalars", "plain_model_class", "base_model", NULL};
    PyObject *models, *scalars, *classify, *base;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$O!OOO!:setup_chat", names, &PySet_Type,
                                     &models, &scalars, &classify, &PyType_Type, &base)) {
        return NULL;
    }
    if (!PyAnySet_Check(scalars)) {
        PyErr_SetString(PyExc_TypeError, "setup_chat: scalars must be a set or frozenset");
        return NULL;
    }
    Py_XSETREF(plain_models, Py_NewRef(models));
    Py_XSETREF(scalar_types, Py_NewRef(scalars));
    Py_XSETREF(plain_model_class, Py_NewRef(classify));
    Py_XSETREF(base_model, Py_NewRef(base));
    if (slot_init(&slot_model_extra, base, s_extra) < 0 ||
        slot_init(&slot_model_fields_set, base, s_fields_set) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* -- plain_json: JSON bytes of a value made of JSON's own types -------------------------------- */

/* aiobs.providers.call.freeze's encoding of the values a provider call freezes most (the
 * program's request arguments, the response read above): dicts with str keys, lists, tuples,
 * str, int, bool, None and floats, written exactly as pydantic_core.to_json writes them (no
 * spaces, non-ASCII as UTF-8, the same escapes, the same float text). Anything else (another
 * type, a subclass, a float written in exponent form or not finite, a string that is not valid
 * UTF-8, nesting deeper than PLAIN_JSON_DEPTH, which includes a cycle) gives None, and freeze
 * uses pydantic_core.to_json as before; tests/providers/test_plain_json.py holds the two to the
 * same bytes. Nothing here runs Python code, so the containers cannot change while written. */

#define PLAIN_JSON_DEPTH 64

typedef struct {
    char *data;
    Py_ssize_t size;
    Py_ssize_t capacity;
    char inline_space[512];
} JsonOut;

/* 1: written; 0: not a value for this encoder (the caller falls back); -1: an error is set. */
static int json_value(JsonOut *out, PyObject *value, int depth);

/* Room for `more` bytes at out->data + out->size: 1, or -1 with MemoryError. */
static int
json_grow(JsonOut *out, Py_ssize_t more)
{
    if (more > PY_SSIZE_T_MAX / 2 - out->size) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t capacity = (out->size + more) * 2;
    char *data;
    if (out->data == out->inline_space) {
        data = PyMem_Malloc(capacity);
        if (data != NULL) {
            memcpy(data, out->data, out->size);
        }
    }
    else {
        data = PyMem_Realloc(out->data, capacity);
    }
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    out->data = data;
    out->capacity = capacity;
    return 1;
}

static inline int
json_reserve(JsonOut *out, Py_ssize_t more)
{
    return out->size + more <= out->capacity ? 1 : json_grow(out, more);
}

static inline int
json_write(JsonOut *out, const char *text, Py_ssize_t length)
{
    if (json_reserve(out, length) < 0) {
        return -1;
    }
    memcpy(out->data + out->size, text, length);
    out->size += length;
    return 1;
}

static inline int
json_char(JsonOut *out, char c)
{
    if (json_reserve(out, 1) < 0) {
        return -1;
    }
    out->data[out->size++] = c;
    return 1;
}

/* How JSON writes each byte inside a string: json_escapes[b] is 0 (as is), a letter (a
 * backslash and the letter) or 'u' (\u00XX); json_extra[b] is how many bytes that adds. */
static char json_escapes[256];
static unsigned char json_extra[256];

static void
json_escapes_init(void)
{
    for (int c = 0; c < 0x20; c++) {
        json_escapes[c] = 'u';
    }
    json_escapes['\b'] = 'b';
    json_escapes['\t'] = 't';
    json_escapes['\n'] = 'n';
    json_escapes['\f'] = 'f';
    json_escapes['\r'] = 'r';
    json_escapes['"'] = '"';
    json_escapes['\\'] = '\\';
    for (int c = 0; c < 256; c++) {
        json_extra[c] = json_escapes[c] == 0 ? 0 : json_escapes[c] == 'u' ? 5 : 1;
    }
}

/* How many leading bytes of `bytes` certainly need no escape, eight at a time: a word has
 * none when no byte is below 0x20 and none is '"' or a backslash (bytes from 0x80 have their top
 * bit set and pass). A multiple of eight: the rest is looked at byte by byte. */
static Py_ssize_t
json_plain_prefix(const unsigned char *bytes, Py_ssize_t length)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    Py_ssize_t i = 0;
    for (; i + 8 <= length; i += 8) {
        uint64_t word;
        memcpy(&word, bytes + i, 8);
        uint64_t quote = word ^ (ones * '"'), backslash = word ^ (ones * '\\');
        uint64_t found = ((word - ones * 0x20) & ~word) | ((quote - ones) & ~quote) |
                         ((backslash - ones) & ~backslash);
        if (found & highs) {
            break;
        }
    }
    return i;
}

static int
json_string(JsonOut *out, PyObject *text)
{
    const unsigned char *bytes;
    Py_ssize_t length;
    PyObject *encoded = NULL;
    if (PyUnicode_IS_ASCII(text)) {
        bytes = PyUnicode_1BYTE_DATA(text);
        length = PyUnicode_GET_LENGTH(text);
    }
    else {
        /* A temporary copy: PyUnicode_AsUTF8AndSize would keep one in the program's string. */
        encoded = PyUnicode_AsUTF8String(text);
        if (encoded == NULL) { /* lone surrogates: pydantic_core refuses them too */
            if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
                return -1;
            }
            PyErr_Clear();
            return 0;
        }
        bytes = (const unsigned char *)PyBytes_AS_STRING(encoded);
        length = PyBytes_GET_SIZE(encoded);
    }
    Py_ssize_t extra = 0; /* one pass to size the text, then it is written without checks */
    for (Py_ssize_t i = json_plain_prefix(bytes, length); i < length; i++) {
        extra += json_extra[bytes[i]];
    }
    if (extra > PY_SSIZE_T_MAX - 2 - length || json_reserve(out, length + extra + 2) < 0) {
        Py_XDECREF(encoded);
        if (!PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        return -1;
    }
    char *w = out->data + out->size;
    *w++ = '"';
    if (extra == 0) {
        memcpy(w, bytes, length);
        w += length;
    }
    else {
        static const char hex[] = "0123456789abcdef";
        for (Py_ssize_t i = 0; i < length; i++) {
            unsigned char b = bytes[i];
            char escape = json_escapes[b];
            if (escape == 0) {
                *w++ = (char)b;
                continue;
            }
            *w++ = '\\';
            *w++ = escape;
            if (escape == 'u') {
                *w++ = '0';
                *w++ = '0';
                *w++ = hex[b >> 4];
                *w++ = hex[b & 15];
            }
        }
    }
    *w++ = '"';
    out->size = w - out->data;
    Py_XDECREF(encoded);
    return 1;
}

static int
json_int(JsonOut *out, PyObject *value)
{
    int overflow;
    long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (number == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow) { /* a big int: its decimal text, as pydantic_core writes it */
        PyObject *text = PyObject_Str(value);
        if (text == NULL) {
            return -1;
        }
        Py_ssize_t length;
        const char *digits = PyUnicode_AsUTF8AndSize(text, &length);
        int status = digits == NULL ? -1 : json_write(out, digits, length);
        Py_DECREF(text);
        return status;
    }
    char digits[24];
    char *end = digits + sizeof(digits), *w = end;
    unsigned long long magnitude =
        number < 0 ? 0ULL - (unsigned long long)number : (unsigned long long)number;
    do {
        *--w = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);
    if (number < 0) {
        *--w = '-';
    }
    return json_write(out, w, end - w);
}

/* A float as Python's repr writes it, when that is also pydantic_core's text: finite, and not
 * in exponent form (pydantic_core writes 1e-05 as 0.00001). */
static int
json_float(JsonOut *out, PyObject *value)
{
    double number = PyFloat_AS_DOUBLE(value);
    if (!isfinite(number)) {
        return 0;
    }
    char *text = PyOS_double_to_string(number, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (text == NULL) {
        return -1;
    }
    int status = strchr(text, 'e') != NULL ? 0 : json_write(out, text, (Py_ssize_t)strlen(text));
    PyMem_Free(text);
    return status;
}

static int
json_dict(JsonOut *out, PyObject *dict, int depth)
{
    PyObject *key, *item;
    Py_ssize_t position = 0;
    int status = json_char(out, '{');
    int first = 1;
    while (status > 0 && PyDict_Next(dict, &position, &key, &item)) {
        if (!PyUnicode_CheckExact(key)) {
            return 0;
        }
        if (!first) {
            status = json_char(out, ',');
        }
        first = 0;
        if (status > 0) {
            status = json_string(out, key);
        }
        if (status > 0) {
            status = json_char(out, ':');
        }
        if (status > 0) {
            status = json_value(out, item, depth);
        }
    }
    return status > 0 ? json_char(out, '}') : status;
}

static int
json_sequence(JsonOut *out, PyObject *sequence, int depth)
{
    int status = json_char(out, '[');
    for (Py_ssize_t i = 0; status > 0 && i < PySequence_Fast_GET_SIZE(sequence); i++) {
        if (i > 0) {
            status = json_char(out, ',');
        }
        if (status > 0) {
            status = json_value(out, PySequence_Fast_GET_ITEM(sequence, i), depth);
        }
    }
    return status > 0 ? json_char(out, ']') : status;
}

static int
json_value(JsonOut *out, PyObject *value, int depth)
{
    PyTypeObject *kind = Py_TYPE(value);
    if (kind == &PyUnicode_Type) {
        return json_string(out, value);
    }
    if (value == Py_None) {
        return json_write(out, "null", 4);
    }
    if (value == Py_True) {
        return json_write(out, "true", 4);
    }
    if (value == Py_False) {
        return json_write(out, "false", 5);
    }
    if (kind == &PyLong_Type) {
        return json_int(out, value);
    }
    if (kind == &PyFloat_Type) {
        return json_float(out, value);
    }
    if (depth >= PLAIN_JSON_DEPTH) {
        return 0;
    }
    if (kind == &PyDict_Type) {
        return json_dict(out, value, depth + 1);
    }
    if (kind == &PyList_Type || kind == &PyTuple_Type) {
        return json_sequence(out, value, depth + 1);
    }
    return 0;
}

static PyObject *
plain_json(PyObject *module, PyObject *value)
{
    JsonOut out = {.data = NULL, .size = 0, .capacity = sizeof(out.inline_space)};
    out.data = out.inline_space;
    int status = json_value(&out, value, 0);
    PyObject *result = status < 0   ? NULL
                       : status == 0 ? Py_NewRef(Py_None)
                                     : PyBytes_FromStringAndSize(out.data, out.size);
    if (out.data != out.inline_space) {
        PyMem_Free(out.data);
    }
    return result;
}

/* -- program_callsite: where the program made a provider call ---------------------------------- */

static PyObject *s_dunder_name;

/* Whether a frame with these globals is the program's: 1, 0, or -1 with an error.
 * aiobs.providers.call.user_callsite's test: no str __name__ counts as the program's; a known
 * module's verdict is in `modules`; `classify(name)` decides (and remembers) a new one. */
static int
program_frame(PyObject *globals, PyObject *modules, PyObject *classify)
{
    PyObject *name = PyDict_Check(globals) ? PyDict_GetItemWithError(globals, s_dunder_name)
                                           : NULL;
    if (name == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (name == NULL || !PyUnicode_CheckExact(name)) {
        return 1;
    }
    PyObject *verdict = PyDict_GetItemWithError(modules, name); /* borrowed */
    if (verdict != NULL) {
        return PyObject_IsTrue(verdict);
    }
    if (PyErr_Occurred()) {
        return -1;
    }
    Py_INCREF(name); /* classify runs Python code, which may change the globals */
    verdict = PyObject_CallOneArg(classify, name);
    Py_DECREF(name);
    int programs = verdict == NULL ? -1 : PyObject_IsTrue(verdict);
    Py_XDECREF(verdict);
    return programs;
}

/* The program's frame `depth` frames up (the caller's frame is depth 1) or further, as
 * (file, line, function); None when there is none. */
static PyObject *
find_callsite(PyObject *modules, PyObject *classify, long depth)
{
    PyFrameObject *frame = PyEval_GetFrame();
    Py_XINCREF(frame);
    for (long i = 1; frame != NULL && i < depth; i++) {
        Py_SETREF(frame, PyFrame_GetBack(frame));
    }
    while (frame != NULL) {
#if PY_VERSION_HEX >= 0x030B0000
        PyObject *globals = PyFrame_GetGlobals(frame);
#else
        PyObject *globals = Py_NewRef(frame->f_globals);
#endif
        int programs = program_frame(globals, modules, classify);
        Py_DECREF(globals);
        if (programs < 0) {
            Py_DECREF(frame);
            return NULL;
        }
        if (programs) {
            PyCodeObject *code = PyFrame_GetCode(frame);
            PyObject *site = Py_BuildValue("(OiO)", code->co_filename,
                                           PyFrame_GetLineNumber(frame), code->co_name);
            Py_DECREF(code);
            Py_DECREF(frame);
            return site;
        }
        Py_SETREF(frame, PyFrame_GetBack(frame));
    }
    Py_RETURN_NONE;
}

/* program_callsite(modules, classify, depth): user_callsite(depth), called from the same frame
 * (user_callsite's own frame would be depth 0). */
static PyObject *
program_callsite(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyDict_CheckExact(args[0]) || !PyLong_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "program_callsite(modules: dict, classify, depth: int)");
        return NULL;
    }
    long depth = PyLong_AsLong(args[2]);
    if (depth == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return find_callsite(args[0], args[1], depth);
}

/* -- complete_call: a provider call that returned normally, recorded and buffered ------------- */

/* aiobs.providers.call.LLMCall.complete, for the exact classes setup_calls() was given:
 * what LLMCall._record does with a response, its counts and model, no error, no stream. */

static PyObject *call_type, *provider_record_type, *totals_type, *freeze_fallback,
    *not_priced_yet, *deferred_fields, *s_ok;
static Py_ssize_t pending_limit;
static Slot slot_call_finished, slot_call_session, slot_call_provider, slot_call_api,
    slot_call_operation, slot_call_request, slot_call_start_ns, slot_call_callsite,
    slot_call_span_id, slot_call_parent_id, slot_call_trace_id, slot_call_request_model,
    slot_session_clock_anchor, slot_session_llm, slot_session_dirty, slot_totals_pending,
    slot_record_fields, slot_record_pricing, slot_record_cost, slot_record_is_function,
    slot_record_deferred;
static PyObject *s_finished, *s_provider, *s_api, *s_operation, *s_request, *s_start_ns,
    *s_callsite, *s_span_id, *s_parent_id, *s_trace_id, *s_request_model, *s_clock_anchor,
    *s_llm, *s_dirty, *s_pending, *s_add_pending, *s_fields_slot, *s_pricing, *s_cost,
    *s_is_function, *s_deferred, *s_price_table, *s_count_llm_call, *s_admit, *s_complete;

static int
slot_set(Slot *slot, PyObject *obj, PyObject *value)
{
    if (Py_TYPE(obj) == slot->type) {
        PyObject **place = (PyObject **)((char *)obj + slot->offset);
        Py_XSETREF(*place, Py_NewRef(value));
        return 0;
    }
    return PyObject_SetAttr(obj, slot->name, value);
}

/* aiobs.providers.call.freeze(value, capturer): plain_json, else the Python encoding with the
 * capturer of `buffer`'s settings. A new reference, or NULL with an error. */
static PyObject *
freeze_value(PyObject *value, PyObject *buffer)
{
    PyObject *frozen = plain_json(NULL, value);
    if (frozen != Py_None) {
        return frozen;
    }
    Py_DECREF(frozen);
    PyObject *capturer = capturer_of(buffer);
    if (capturer == NULL) {
        return NULL;
    }
    frozen = PyObject_CallFunctionObjArgs(freeze_fallback, value, capturer, NULL);
    Py_DECREF(capturer);
    return frozen;
}

/* aiobs's own failure while `doing` a `provider` event ("recording a openai event"), as
 * contain_internal_error treats it: 0 when reported, -1 with an error to pass on. `provider` is
 * borrowed and may be NULL. */
static int
contain_event_error(const char *doing, PyObject *provider)
{
    PyObject *exc = take_exception();
    PyObject *what = PyUnicode_FromFormat("%s a %S event", doing,
                                          provider == NULL ? Py_None : provider);
    if (what == NULL) {
        Py_XDECREF(exc);
        return -1;
    }
    restore_exception(exc);
    int status = contain_internal_error(what);
    Py_DECREF(what);
    return status;
}

/* A new ProviderRecord (ProviderRecord.of), or NULL with an error. */
static PyObject *
new_provider_record(PyObject *fields, PyObject *pricing)
{
    PyTypeObject *type = (PyTypeObject *)provider_record_type;
    PyObject *record = type->tp_alloc(type, 0);
    if (record == NULL) {
        return NULL;
    }
    if (slot_set(&slot_record_fields, record, fields) < 0 ||
        slot_set(&slot_record_pricing, record, pricing) < 0 ||
        slot_set(&slot_record_cost, record, not_priced_yet) < 0 ||
        slot_set(&slot_record_is_function, record, Py_False) < 0 ||
        slot_set(&slot_record_deferred, record, deferred_fields) < 0) {
        Py_DECREF(record);
        return NULL;
    }
    return record;
}

/* session.count_llm_call(record): the record joins the totals' pending calls. */
static int
count_llm_call(PyObject *session, PyObject *record)
{
    if (Py_TYPE(session) != slot_session_llm.type) {
        PyObject *done = PyObject_CallMethodOneArg(session, s_count_llm_call, record);
        Py_XDECREF(done);
        return done == NULL ? -1 : 0;
    }
    PyObject *totals = slot_get(&slot_session_llm, session);
    if (totals == NULL) {
        return -1;
    }
    PyObject *pending = Py_TYPE(totals) == (PyTypeObject *)totals_type
                            ? slot_get(&slot_totals_pending, totals)
                            : NULL;
    int status;
    if (pending != NULL && PyList_CheckExact(pending)) {
        status = PyList_Append(pending, record);
        if (status == 0 && PyList_GET_SIZE(pending) >= pending_limit) {
            PyObject *done = PyObject_CallMethodNoArgs(totals, s_add_pending);
            status = done == NULL ? -1 : 0;
            Py_XDECREF(done);
        }
    }
    else if (PyErr_Occurred()) {
        status = -1;
    }
    else { /* a stand-in for the totals: its own method */
        PyObject *done = PyObject_CallMethod(totals, "count_later", "O", record);
        status = done == NULL ? -1 : 0;
        Py_XDECREF(done);
    }
    Py_XDECREF(pending);
    Py_DECREF(totals);
    return status < 0 ? -1 : slot_set(&slot_session_dirty, session, Py_True);
}

/* A Python int of nanoseconds as a C long long, or -1 with an error (not an int, too big). */
static int
read_ns(PyObject *value, long long *out)
{
    if (!PyLong_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "aiobs: a clock reading is not an int");
        return -1;
    }
    *out = PyLong_AsLongLong(value);
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

/* What LLMCall._record does from `try:` on, for a normal return; 0, or -1 with an error. */
static int
record_completion(PyObject *call, PyObject *response, PyObject *counts, PyObject *model,
                  long long end_ns)
{
    PyObject *session = NULL, *buffer = NULL, *settings = NULL, *anchor = NULL, *frozen = NULL,
             *pricing = NULL, *fields = NULL, *record = NULL, *row = NULL;
    PyObject *v[11] = {NULL}; /* the call's slots read below, in this order */
    Slot *read[11] = {&slot_call_provider,  &slot_call_api,       &slot_call_operation,
                      &slot_call_request,   &slot_call_start_ns,  &slot_call_callsite,
                      &slot_call_span_id,   &slot_call_parent_id, &slot_call_trace_id,
                      &slot_call_request_model, &slot_call_session};
    int status = -1;
    for (int i = 0; i < 11; i++) {
        v[i] = slot_get(read[i], call);
        if (v[i] == NULL) {
            goto done;
        }
    }
    session = v[10];
    buffer = slot_get(&slot_session_buffer, session);
    if (buffer == NULL) {
        goto done;
    }
    settings = slot_get(&slot_buffer_settings, buffer);
    anchor = settings == NULL ? NULL : slot_get(&slot_session_clock_anchor, session);
    if (anchor == NULL) {
        goto done;
    }
    if (!PyTuple_Check(anchor) || PyTuple_GET_SIZE(anchor) != 2) {
        PyErr_SetString(PyExc_TypeError, "aiobs: a session's clock anchor is not a pair");
        goto done;
    }
    double anchor_wall = PyFloat_AsDouble(PyTuple_GET_ITEM(anchor, 0));
    long long anchor_ns, start_ns;
    if ((anchor_wall == -1.0 && PyErr_Occurred()) ||
        read_ns(PyTuple_GET_ITEM(anchor, 1), &anchor_ns) < 0 || read_ns(v[4], &start_ns) < 0) {
        goto done;
    }
    frozen = response == Py_None ? Py_NewRef(Py_None) : freeze_value(response, buffer);
    if (frozen == NULL) {
        goto done;
    }
    pricing = PyObject_GetAttr(settings, s_price_table);
    if (pricing == NULL) {
        goto done;
    }
    fields = PyTuple_New(17);
    if (fields == NULL) {
        goto done;
    }
    PyObject *started_at = PyFloat_FromDouble(anchor_wall + (double)(start_ns - anchor_ns) / 1e9);
    PyObject *duration_ms = PyFloat_FromDouble((double)(end_ns - start_ns) / 1e6);
    if (started_at == NULL || duration_ms == NULL) {
        Py_XDECREF(started_at);
        Py_XDECREF(duration_ms);
        goto done;
    }
    PyObject *items[17] = {
        v[0], v[1], v[2], v[3], frozen, started_at, duration_ms, v[5], v[6], v[7], v[8], v[9],
        model, s_ok, counts, Py_None, Py_None,
    };
    for (int i = 0; i < 17; i++) { /* the two floats are handed over, the rest shared */
        PyTuple_SET_ITEM(fields, i, i == 5 || i == 6 ? items[i] : Py_NewRef(items[i]));
    }
    record = new_provider_record(fields, pricing);
    if (record == NULL || count_llm_call(session, record) < 0) {
        goto done;
    }
    row = PyTuple_New(RECORD_WIDTH);
    if (row == NULL) {
        goto done;
    }
    PyTuple_SET_ITEM(row, 0, Py_NewRef(record));
    for (int i = 1; i < RECORD_WIDTH; i++) {
        PyTuple_SET_ITEM(row, i, Py_NewRef(Py_None));
    }
    if (Py_TYPE(buffer) == slot_buffer_places.type) {
        status = admit(session, buffer, row);
    }
    else {
        PyObject *done = PyObject_CallMethodObjArgs(buffer, s_admit, session, row, NULL);
        status = done == NULL ? -1 : 0;
        Py_XDECREF(done);
    }
done:
    for (int i = 0; i < 11; i++) {
        Py_XDECREF(v[i]);
    }
    Py_XDECREF(buffer);
    Py_XDECREF(settings);
    Py_XDECREF(anchor);
    Py_XDECREF(frozen);
    Py_XDECREF(pricing);
    Py_XDECREF(fields);
    Py_XDECREF(record);
    Py_XDECREF(row);
    return status;
}

/* complete_call(call, response, counts, response_model): LLMCall.complete. */
static PyObject *
complete_call(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError,
                        "complete_call(call, response, counts, response_model): 4 arguments");
        return NULL;
    }
    PyObject *call = args[0];
    if (call_type == NULL || Py_TYPE(call) != (PyTypeObject *)call_type || ids_dict == NULL ||
        report_error == NULL) { /* a subclass, or not set up yet: the Python method */
        return PyObject_CallMethodObjArgs(call, s_complete, args[1], args[2], args[3], NULL);
    }
    PyObject *finished = slot_get(&slot_call_finished, call);
    int ended = finished == NULL ? -1 : PyObject_IsTrue(finished);
    Py_XDECREF(finished);
    if (ended != 0) { /* the first finish wins */
        return ended < 0 ? NULL : Py_NewRef(Py_None);
    }
    if (slot_set(&slot_call_finished, call, Py_True) < 0) {
        return NULL;
    }
    long long end_ns;
    PyObject *end = clock_now(&end_ns);
    int status = end == NULL ? -1 : end_ns >= 0 ? 0 : read_ns(end, &end_ns);
    Py_XDECREF(end);
    if (status == 0) {
        status = record_completion(call, args[1], args[2], args[3], end_ns);
    }
    if (status < 0) { /* aiobs's own failure: reported, never passed to the program */
        /* read without a call while the error is pending (the exact class: see above) */
        PyObject *provider = *(PyObject **)((char *)call + slot_call_provider.offset);
        if (contain_event_error("recording", provider) < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/* -- start_call: a provider call opened, or None when nothing records it ----------------------- */

/* aiobs.providers.call.LLMCall.start's steps, in its order, for the LLMCall class. */

static PyObject *suppressed_flag, *inside_flag, *program_modules, *is_program_module;
static Slot slot_call_chunks, slot_call_first_chunk_ns;
static PyObject *s_chunks, *s_first_chunk_ns, *s_fail;

/* Whether a context variable holding a flag is set (its value is true): 1, 0, or -1. */
static int
flag_set(PyObject *var)
{
    PyObject *value = NULL;
    if (PyContextVar_Get(var, NULL, &value) < 0) {
        return -1;
    }
    if (value == NULL) {
        return 0;
    }
    int set = PyObject_IsTrue(value);
    Py_DECREF(value);
    return set;
}

/* A new LLMCall for `session`, or NULL with an error. */
static PyObject *
open_llm_call(PyObject *session, PyObject *const *args)
{
    PyObject *request = args[2], *model = args[3];
    long frames = PyLong_AsLong(args[5]);
    if (frames == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)call_type;
    PyObject *call = type->tp_alloc(type, 0);
    if (call == NULL) {
        return NULL;
    }
    PyObject *frozen = NULL, *site = NULL, *span = NULL, *parent = NULL, *trace = NULL,
             *start = NULL;
    int ok = 0;
    if (slot_set(&slot_call_session, call, session) < 0 ||
        slot_set(&slot_call_provider, call, args[0]) < 0 ||
        slot_set(&slot_call_api, call, args[1]) < 0 ||
        slot_set(&slot_call_operation, call, args[4]) < 0 ||
        slot_set(&slot_call_request_model, call, PyUnicode_Check(model) ? model : Py_None) < 0) {
        goto done;
    }
    /* Frozen now (the caller may change its messages list after the call). */
    PyObject *buffer = slot_get(&slot_session_buffer, session);
    if (buffer != NULL) {
        frozen = freeze_value(request, buffer);
        Py_DECREF(buffer);
    }
    if (frozen == NULL || slot_set(&slot_call_request, call, frozen) < 0) {
        goto done;
    }
    site = find_callsite(program_modules, is_program_module, frames + 1); /* past the caller's */
    if (site == NULL || slot_set(&slot_call_callsite, call, site) < 0) {
        goto done;
    }
    span = id_from(s_new_span_id, &SpanIdsType, span_ids_take);
    if (span == NULL || slot_set(&slot_call_span_id, call, span) < 0 ||
        span_parent(&parent, &trace) < 0 || slot_set(&slot_call_parent_id, call, parent) < 0 ||
        slot_set(&slot_call_trace_id, call, trace) < 0) {
        goto done;
    }
    PyObject *zero = PyLong_FromLong(0);
    if (zero == NULL) {
        goto done;
    }
    int set = slot_set(&slot_call_finished, call, Py_False) < 0 ||
              slot_set(&slot_call_chunks, call, zero) < 0 ||
              slot_set(&slot_call_first_chunk_ns, call, Py_None) < 0;
    Py_DECREF(zero);
    if (set) {
        goto done;
    }
    long long direct;
    start = clock_now(&direct);
    ok = start != NULL && slot_set(&slot_call_start_ns, call, start) == 0;
done:
    Py_XDECREF(frozen);
    Py_XDECREF(site);
    Py_XDECREF(span);
    Py_XDECREF(parent);
    Py_XDECREF(trace);
    Py_XDECREF(start);
    if (!ok) {
        Py_CLEAR(call);
    }
    return call;
}

/* start_call(provider, api, request, model, operation, aiobs_frames): LLMCall.start. */
static PyObject *
start_call(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 || !PyLong_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError, "start_call(provider, api, request, model, operation, "
                                         "aiobs_frames: int): 6 arguments");
        return NULL;
    }
    if (call_type == NULL || suppressed_flag == NULL || session_var == NULL ||
        report_error == NULL) {
        PyErr_SetString(PyExc_TypeError, "start_call: after setup() and setup_calls()");
        return NULL;
    }
    PyObject *session = current_session();
    if (session == NULL || session == Py_None) {
        return session;
    }
    int skip = flag_set(suppressed_flag);
    if (skip == 0) {
        skip = flag_set(inside_flag);
    }
    if (skip != 0) {
        Py_DECREF(session);
        return skip < 0 ? NULL : Py_NewRef(Py_None);
    }
    PyObject *call = open_llm_call(session, args);
    Py_DECREF(session);
    if (call != NULL) {
        return call;
    }
    /* aiobs's own failure: reported, and the SDK called directly */
    return contain_event_error("starting", args[0]) < 0 ? NULL : Py_NewRef(Py_None);
}

/* run_call(call, function, args, kwargs): LLMCall.run(function, *args, **kwargs). The SDK's
 * function runs with aiobs's inside-a-call flag set; its exception is recorded with call.fail()
 * and raised on as the same object. */
static PyObject *
run_call(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyTuple_Check(args[2]) || !PyDict_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "run_call(call, function, args: tuple, kwargs: dict)");
        return NULL;
    }
    if (inside_flag == NULL) {
        PyErr_SetString(PyExc_TypeError, "run_call: after setup_calls()");
        return NULL;
    }
    PyObject *token = PyContextVar_Set(inside_flag, Py_True);
    if (token == NULL) {
        return NULL;
    }
    PyObject *result = PyObject_Call(args[1], args[2], args[3]);
    if (result == NULL) {
        PyObject *error = take_exception();
        PyObject *done = error == NULL ? NULL : PyObject_CallMethodOneArg(args[0], s_fail, error);
        if (done == NULL) { /* fail() raised (aiobs's errors do, under the tests): that goes on,
                             * with the program's exception as its context */
            if (error != NULL) {
                PyObject *raised = take_exception();
                if (raised != NULL) {
                    PyException_SetContext(raised, Py_NewRef(error));
                    restore_exception(raised);
                }
                Py_DECREF(error);
            }
        }
        else {
            Py_DECREF(done);
            restore_exception(error); /* the program's exception, untouched */
        }
    }
    PyObject *pending = result == NULL ? take_exception() : NULL; /* held while resetting */
    int reset = PyContextVar_Reset(inside_flag, token);
    Py_DECREF(token);
    if (reset < 0) { /* as a `finally:` that raises: its error replaces any other */
        Py_XDECREF(pending);
        Py_CLEAR(result);
    }
    else if (pending != NULL) {
        restore_exception(pending);
    }
    return result;
}

static PyObject *
setup_calls(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"call_type",      "record_type",   "session_type",
                            "buffer_type",    "totals_type",   "freeze",
                            "not_priced_yet", "deferred",      "pending_limit",
                            "suppressed_var", "inside_var",    "program_modules",
                            "is_program_module", NULL};
    PyObject *call, *record, *session, *buffer, *totals, *freeze, *not_priced, *deferred,
        *suppressed, *inside, *modules, *classify;
    Py_ssize_t limit;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "$O!O!O!O!O!OOO!nO!O!O!O:setup_calls", names, &PyType_Type, &call,
            &PyType_Type, &record, &PyType_Type, &session, &PyType_Type, &buffer, &PyType_Type,
            &totals, &freeze, &not_priced, &PyTuple_Type, &deferred, &limit,
            &PyContextVar_Type, &suppressed, &PyContextVar_Type, &inside, &PyDict_Type,
            &modules, &classify)) {
        return NULL;
    }
    struct {
        Slot *slot;
        PyObject *type;
        PyObject *name;
    } slots[] = {
        {&slot_call_finished, call, s_finished},     {&slot_call_session, call, s_session},
        {&slot_call_provider, call, s_provider},     {&slot_call_api, call, s_api},
        {&slot_call_operation, call, s_operation},   {&slot_call_request, call, s_request},
        {&slot_call_start_ns, call, s_start_ns},     {&slot_call_callsite, call, s_callsite},
        {&slot_call_span_id, call, s_span_id},       {&slot_call_parent_id, call, s_parent_id},
        {&slot_call_trace_id, call, s_trace_id},
        {&slot_call_request_model, call, s_request_model},
        {&slot_call_chunks, call, s_chunks},         {&slot_call_first_chunk_ns, call, s_first_chunk_ns},
        {&slot_session_clock_anchor, session, s_clock_anchor},
        {&slot_session_llm, session, s_llm},         {&slot_session_dirty, session, s_dirty},
        {&slot_session_buffer, session, s_buffer},   {&slot_session_records, session, s_records},
        {&slot_session_released, session, s_released},
        {&slot_buffer_settings, buffer, s_settings}, {&slot_buffer_places, buffer, s_places},
        {&slot_totals_pending, totals, s_pending},   {&slot_record_fields, record, s_fields_slot},
        {&slot_record_pricing, record, s_pricing},   {&slot_record_cost, record, s_cost},
        {&slot_record_is_function, record, s_is_function},
        {&slot_record_deferred, record, s_deferred},
    };
    for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
        if (slot_init(slots[i].slot, slots[i].type, slots[i].name) < 0) {
            return NULL;
        }
        if (slots[i].slot->type == NULL) {
            PyErr_Format(PyExc_TypeError, "setup_calls: %R has no slot %R", slots[i].type,
                         slots[i].name);
            return NULL;
        }
    }
    Py_XSETREF(call_type, Py_NewRef(call));
    Py_XSETREF(provider_record_type, Py_NewRef(record));
    Py_XSETREF(totals_type, Py_NewRef(totals));
    Py_XSETREF(freeze_fallback, Py_NewRef(freeze));
    Py_XSETREF(not_priced_yet, Py_NewRef(not_priced));
    Py_XSETREF(deferred_fields, Py_NewRef(deferred));
    pending_limit = limit;
    Py_XSETREF(suppressed_flag, Py_NewRef(suppressed));
    Py_XSETREF(inside_flag, Py_NewRef(inside));
    Py_XSETREF(program_modules, Py_NewRef(modules));
    Py_XSETREF(is_program_module, Py_NewRef(classify));
    Py_RETURN_NONE;
}

/* -- the module ------------------------------------------------------------------------------ */

static PyObject *
setup(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"session_var",     "span_var",       "default",
                            "ids",             "otel",           "otel_parent",
                            "capture_inputs",  "capture_result", "append_error",
                            "report_internal_error", "big_int", "perf_counter_ns",
                            "session_type",    "buffer_type",    "capturer_type", NULL};
    enum { N = 15 };
    PyObject *v[N];
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "$OOOO!O!OOOOOO!OOOO:setup", names, &v[0], &v[1], &v[2],
            &PyDict_Type, &v[3], &PyDict_Type, &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
            &PyLong_Type, &v[10], &v[11], &v[12], &v[13], &v[14])) {
        return NULL;
    }
    PyObject *negative = PyNumber_Negative(v[10]);
    if (negative == NULL) {
        return NULL;
    }
    PyObject **kept[12] = {&session_var,    &span_var,        &default_slot,   &ids_dict,
                           &otel_dict,      &otel_parent,     &capture_inputs, &capture_result,
                           &append_error,   &report_error,    &big_int_pos,    &perf_counter_ns};
    for (int i = 0; i < 12; i++) {
        Py_XSETREF(*kept[i], Py_NewRef(v[i]));
    }
    Py_XSETREF(big_int_neg, negative);
    PyObject *session_type = v[12], *buffer_type = v[13], *capturer_type = v[14];
    if (slot_init(&slot_default_session, (PyObject *)Py_TYPE(default_slot), s_session) < 0 ||
        slot_init(&slot_session_buffer, session_type, s_buffer) < 0 ||
        slot_init(&slot_session_records, session_type, s_records) < 0 ||
        slot_init(&slot_session_released, session_type, s_released) < 0 ||
        slot_init(&slot_buffer_settings, buffer_type, s_settings) < 0 ||
        slot_init(&slot_buffer_places, buffer_type, s_places) < 0 ||
        slot_init(&slot_capturer_fast_items, capturer_type, s_fast_items) < 0 ||
        slot_init(&slot_capturer_fast_string, capturer_type, s_fast_string) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"setup_chat", (PyCFunction)(void (*)(void))setup_chat, METH_VARARGS | METH_KEYWORDS,
     "Hand over what the one-pass read of a chat completion uses (aiobs.providers.openai_chat)."},
    {"read_chat_completion", read_chat_completion, METH_O,
     "(response, counts, model) of a plain one-choice completion, else None (openai_chat)."},
    {"plain_json", plain_json, METH_O,
     "JSON bytes of a value of JSON's own types as pydantic_core.to_json writes them, else None."},
    {"program_callsite", (PyCFunction)(void (*)(void))program_callsite, METH_FASTCALL,
     "(file, line, function) where the program called: aiobs.providers.call.user_callsite."},
    {"setup_calls", (PyCFunction)(void (*)(void))setup_calls, METH_VARARGS | METH_KEYWORDS,
     "Hand over the classes complete_call records with (called by aiobs.providers.call)."},
    {"start_call", (PyCFunction)(void (*)(void))start_call, METH_FASTCALL,
     "LLMCall.start(provider, api, request, model=, operation=, aiobs_frames=): a call or None."},
    {"run_call", (PyCFunction)(void (*)(void))run_call, METH_FASTCALL,
     "LLMCall.run(function, *args, **kwargs), as run_call(call, function, args, kwargs)."},
    {"complete_call", (PyCFunction)(void (*)(void))complete_call, METH_FASTCALL,
     "LLMCall.complete(response, counts, response_model): record and buffer the call's event."},
    {"setup", (PyCFunction)(void (*)(void))setup, METH_VARARGS | METH_KEYWORDS,
     "Hand over aiobs's context variables, clocks and helpers (called once by aiobs.observe)."},
    {NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "aiobs._speedups",
    .m_doc = "The hot paths of @observe and of recorded provider calls, in C (optional).",
    .m_size = -1,
    .m_methods = module_methods,
};

static int
intern_names(void)
{
    struct {
        PyObject **slot;
        const char *text;
    } table[] = {
        {&s_session, "session"},       {&s_new_span_id, "new_span_id"},
        {&s_new_trace_id, "new_trace_id"}, {&s_monotonic_ns, "monotonic_ns"},
        {&s_current, "current"},       {&s_buffer, "buffer"},
        {&s_settings, "settings"},     {&s_capturer, "capturer"},
        {&s_fast_items, "fast_items"}, {&s_fast_string, "fast_string"},
        {&s_places, "places"},         {&s_records, "records"},
        {&s_released, "released"},     {&s_reject, "reject"},
        {&s_reattach, "reattach"},     {&s_pop, "pop"},
        {&s_starting, "starting a span"}, {&s_recording, "recording a span"},
        {&s_extra, "__pydantic_extra__"}, {&s_fields_set, "__pydantic_fields_set__"},
        {&s_dunder_dict, "__dict__"},  {&s_choices, "choices"},
        {&s_message, "message"},       {&s_tool_calls, "tool_calls"},
        {&s_function_call, "function_call"}, {&s_content, "content"},
        {&s_usage, "usage"},           {&s_model, "model"},
        {&s_id, "id"},                 {&s_text, "text"},
        {&s_finish_reason, "finish_reason"}, {&s_finish_reasons, "finish_reasons"},
        {&s_prompt_tokens, "prompt_tokens"}, {&s_completion_tokens, "completion_tokens"},
        {&s_total_tokens, "total_tokens"}, {&s_prompt_details, "prompt_tokens_details"},
        {&s_completion_details, "completion_tokens_details"},
        {&s_cached_tokens, "cached_tokens"}, {&s_cache_write_tokens, "cache_write_tokens"},
        {&s_reasoning_tokens, "reasoning_tokens"}, {&s_dunder_name, "__name__"},
        {&s_finished, "finished"},
        {&s_provider, "provider"},
        {&s_api, "api"},
        {&s_operation, "operation"},
        {&s_request, "request"},
        {&s_start_ns, "start_ns"},
        {&s_callsite, "callsite"},
        {&s_span_id, "span_id"},
        {&s_parent_id, "parent_id"},
        {&s_trace_id, "trace_id"},
        {&s_request_model, "request_model"},
        {&s_clock_anchor, "clock_anchor"},
        {&s_llm, "llm"},
        {&s_dirty, "dirty"},
        {&s_pending, "pending"},
        {&s_add_pending, "_add_pending"},
        {&s_fields_slot, "_fields"},
        {&s_pricing, "_pricing"},
        {&s_cost, "_cost"},
        {&s_is_function, "is_function"},
        {&s_deferred, "deferred"},
        {&s_price_table, "price_table"},
        {&s_count_llm_call, "count_llm_call"},
        {&s_admit, "admit"},
        {&s_ok, "ok"},
        {&s_chunks, "chunks"},
        {&s_fail, "fail"},
        {&s_complete, "complete"},
        {&s_first_chunk_ns, "first_chunk_ns"},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        *table[i].slot = PyUnicode_InternFromString(table[i].text);
        if (*table[i].slot == NULL) {
            return -1;
        }
    }
    return 0;
}

PyMODINIT_FUNC
PyInit__speedups(void)
{
    json_escapes_init();
    if (intern_names() < 0 || PyType_Ready(&ObservedType) < 0 || PyType_Ready(&SpanIdsType) < 0 ||
        PyType_Ready(&TraceIdsType) < 0 ||
        PyType_Ready(&OpenCallType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&speedups_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "ObservedFunction", (PyObject *)&ObservedType) < 0 ||
        PyModule_AddObjectRef(module, "SpanIds", (PyObject *)&SpanIdsType) < 0 ||
        PyModule_AddObjectRef(module, "TraceIds", (PyObject *)&TraceIdsType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
