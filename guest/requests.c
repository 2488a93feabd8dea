/*
 * requests.c - a call for every guest-to-host packet: the requests that
 * get an id and a completion, and the one-way packets (reset, cancel, iso
 * OUT, filter_filter, filter_reject). Rules on the packet itself (IN
 * endpoints, lengths, caps) are the codec's (codec.c); this file checks the
 * session's state and the caller's buffers.
 */
#include "session.h"
#include "type_fields.h"

static int not_ready(const urg_session *s, bool need_device)
{
    if (!s)
        return URG_ERR_INVALID;
    if (s->state == URG_STATE_FAILED)
        return URG_ERR_FAILED;
    if (s->state == URG_STATE_WAIT_HELLO)
        return URG_ERR_STATE;
    if (need_device && s->state != URG_STATE_CONNECTED)
        return URG_ERR_NO_DEVICE;
    return 0;
}
/* 0 if s may take a request (need_device: with a device), else why not. */
static inline int ready(const urg_session *s, bool need_device)
{
    if (URGI_LIKELY(s && s->state == URG_STATE_CONNECTED))
        return 0;
    return not_ready(s, need_device);
}

/* What a request's pending entry keeps beside its id: its endpoint and
 * requested length, aux32 and aux8 (stream id, endpoint mask, interface,
 * configuration), its IN destination and its OUT payload. A destination or
 * payload given as segments (the _iov calls) is the caller's iovec array:
 * out_segs of its entries hold the payload's out_len bytes, dest_iovcnt
 * of them the destination. */
struct req {
    const void *out;    /* OUT payload, referenced until completion: a
                           buffer, or with out_iov the caller's iovecs */
    uint32_t out_len;
    uint32_t out_segs;  /* with out_iov: segments with payload bytes */
    bool out_iov;
    void *dest;         /* IN destination, optional (a buffer, or the
                           caller's iovecs with dest_iov) */
    uint32_t dest_iovcnt;
    bool dest_iov;
    uint32_t length;    /* requested length */
    uint8_t endpoint;
    bool in;
    uint32_t aux32;
    uint8_t aux8;
};

/* The output segments q's packet takes: its header, and its payload's. */
static inline uint32_t out_segments(const struct req *q)
{
    return 1 + (q->out_iov ? q->out_segs : 1);
}

/* Queues q's OUT payload, uncopied, after its header: one segment, or one
 * per non-empty iovec up to out_len bytes, all owned by entry i. */
static void queue_payload(urg_session *s, uint32_t i, uint64_t id, const struct req *q)
{
    const struct iovec *v = q->out;
    uint32_t left = q->out_len, segs = q->out_segs;
    if (!q->out_iov) {
        urgi_outq_put_ext(&s->oq, q->out, q->out_len, i, id, true);
        return;
    }
    for (; left; v++) {
        uint32_t n = v->iov_len < left ? (uint32_t)v->iov_len : left;
        if (!n)
            continue;
        urgi_outq_put_ext(&s->oq, v->iov_base, n, i, id, --segs == 0);
        left -= n;
    }
}

/* Request i, just queued as n bytes of type index idx (its header in the
 * ring), takes the rest of its pending entry: q, user_data, and its OUT
 * payload queued after the header, uncopied. */
static URGI_ALWAYS_INLINE void queued(urg_session *s, uint32_t i, uint32_t type, int idx, int n,
                                      const struct req *q, void *user_data, uint64_t *id)
{
    struct urgi_pending *e = &s->pt.e[i];
    e->type = (uint8_t)type;
    e->endpoint = q->endpoint;
    e->length = q->length;
    e->in = q->dest;
    e->aux32 = q->aux32;
    e->aux8 = q->aux8;
    e->user_data = user_data;
    if (q->in)
        e->flags |= URGI_P_IN;
    if (URGI_UNLIKELY(q->dest_iov)) {
        e->flags |= URGI_P_IOV;
        e->in_iovcnt = q->dest_iovcnt;
    }
    if (q->out_len) {
        queue_payload(s, i, e->id, q);
        e->flags |= URGI_P_OUT_QUEUED;
    }
    s->tx_packets[idx]++;
    s->tx_bytes[idx] += (uint64_t)n + q->out_len;
    if (id)
        *id = e->id;
}

/* Queues request packet p with a new pending entry: encoded (and checked)
 * before it has an id, which is then filled in at its place in the
 * header. */
static int submit(urg_session *s, struct urg_packet *p, const struct req *q, void *user_data,
                  uint64_t *id)
{
    uint8_t hdr[URGI_MAX_HEADERS];
    uint32_t i;
    int n, r, hl = s->out_frames.hl;

    p->id = 0;
    p->data = q->out; /* (segments: urg_encode() only checks data is there) */
    p->data_len = q->out_len;
    n = urg_encode(&s->wire, URG_DIR_TO_HOST, p, hdr, sizeof(hdr));
    if (n < 0)
        return n;
    if ((r = urgi_output_fits(s, (size_t)n + q->out_len, URGI_BOUND_REQUEST)))
        return r;
    i = urgi_pt_add(&s->pt);
    if (i == URGI_NIL)
        return URG_ERR_NOMEM;
    if ((r = urgi_outq_reserve(&s->oq, (size_t)n, out_segments(q)))) {
        urgi_pt_remove(&s->pt, i);
        return r;
    }
    p->id = s->pt.e[i].id;
    urgi_put_id(hdr, hl, p->id);
    urgi_outq_put(&s->oq, hdr, (size_t)n);
    queued(s, i, p->type, urg_type_index(p->type), n, q, user_data, id);
    urgi_stream_request_sent(s, p, &s->pt.e[i]);
    return 0;
}

/* q for a control or bulk request: data is the IN destination (optional)
 * or the OUT payload (needed when length > 0). 0 or URG_ERR_INVALID. */
static URGI_ALWAYS_INLINE int data_req(struct req *q, uint8_t endpoint, uint32_t length,
                                       uint32_t aux32, void *data)
{
    const bool in = (endpoint & 0x80) != 0;
    if (!in && length && !data)
        return URG_ERR_INVALID;
    q->out = in ? NULL : data;
    q->out_len = in ? 0 : length;
    q->out_segs = 0;
    q->out_iov = false;
    q->dest = in ? data : NULL;
    q->dest_iovcnt = 0;
    q->dest_iov = false;
    q->length = length;
    q->endpoint = endpoint;
    q->in = in;
    q->aux32 = aux32;
    q->aux8 = 0;
    return 0;
}

/* The segments iov[iovcnt] as a transfer's data of length bytes: at most
 * URG_IOV_MAX of them, holding at least length bytes, none of the first
 * length NULL. *segs: how many non-empty ones hold those bytes, *cnt: how
 * many iovecs up to the last of them. 0 or URG_ERR_INVALID. */
static int iov_check(const struct iovec *iov, int iovcnt, uint32_t length, uint32_t *segs,
                     uint32_t *cnt)
{
    uint32_t left = length;
    int k;
    *segs = *cnt = 0;
    if (iovcnt < 0 || iovcnt > URG_IOV_MAX || (iovcnt && !iov))
        return URG_ERR_INVALID;
    for (k = 0; k < iovcnt && left; k++) {
        if (!iov[k].iov_len)
            continue;
        if (!iov[k].iov_base)
            return URG_ERR_INVALID;
        left -= iov[k].iov_len < left ? (uint32_t)iov[k].iov_len : left;
        ++*segs;
        *cnt = (uint32_t)k + 1;
    }
    return left ? URG_ERR_INVALID : 0;
}

URG_API int urg_iov_check(const struct iovec *iov, int iovcnt, uint32_t length)
{
    uint32_t segs, cnt;
    return iov_check(iov, iovcnt, length, &segs, &cnt);
}

/* data_req() for data given as segments (iov[iovcnt]). */
static int data_req_iov(struct req *q, uint8_t endpoint, uint32_t length, uint32_t aux32,
                        const struct iovec *iov, int iovcnt)
{
    uint32_t segs, cnt;
    int r;
    if ((r = iov_check(iov, iovcnt, length, &segs, &cnt)))
        return r;
    data_req(q, endpoint, 0, aux32, NULL); /* (no data: cannot fail) */
    q->length = length;
    if (!length)
        return 0;
    if (q->in) {
        q->dest = (void *)(uintptr_t)iov;
        q->dest_iovcnt = cnt;
        q->dest_iov = true;
    } else {
        q->out = iov;
        q->out_len = length;
        q->out_segs = segs;
        q->out_iov = true;
    }
    return 0;
}

/* A control or bulk request, valid by construction (its call checked all
 * that urg_encode() would): data_begin() takes its pending entry and its
 * room in the output and writes its header, straight at the ring's tail
 * (in f->hdr where it would wrap there); the caller writes every field of
 * the type header at f->th (type_fields.h's writers); data_end() queues it.
 * No struct urg_packet in between, and a data request starts no stream. */
#define DATA_HEADERS_MAX (URGI_MAX_HEADER + 16)
_Static_assert(sizeof(((struct urg_packet *)0)->h.control) <= 16 &&
                   sizeof(((struct urg_packet *)0)->h.bulk) <= 16,
               "a data request's headers fit DATA_HEADERS_MAX");
struct data_frame {
    uint8_t *b;      /* the header: at the ring's tail, or in hdr */
    uint8_t *th;     /* its type header */
    uint8_t *hdr;    /* the caller's DATA_HEADERS_MAX bytes, for a wrap */
    uint32_t i;      /* its pending entry */
    int n;           /* header + type header bytes */
};

static URGI_ALWAYS_INLINE int data_begin(urg_session *s, uint32_t type, const struct req *q,
                                         struct data_frame *f)
{
    const uint32_t out_len = q->out_len;
    const int hl = s->out_frames.hl, th = s->out_frames.th[URGI_INDEX(type)];
    int r;

    f->n = hl + th;
    if ((r = urgi_output_fits(s, (size_t)f->n + out_len, URGI_BOUND_REQUEST)))
        return r;
    f->i = urgi_pt_add(&s->pt);
    if (f->i == URGI_NIL)
        return URG_ERR_NOMEM;
    if ((r = urgi_outq_reserve(&s->oq, (size_t)f->n, out_segments(q)))) {
        urgi_pt_remove(&s->pt, f->i);
        return r;
    }
    f->b = urgi_outq_tail(&s->oq, (size_t)f->n);
    if (URGI_UNLIKELY(!f->b))
        f->b = f->hdr;
    urgi_put32(f->b, type);
    urgi_put32(f->b + 4, (uint32_t)th + out_len);
    urgi_put_id(f->b, hl, s->pt.e[f->i].id);
    f->th = f->b + hl;
    return 0;
}

static URGI_ALWAYS_INLINE void data_end(urg_session *s, uint32_t type, const struct data_frame *f,
                            const struct req *q, void *user_data, uint64_t *id)
{
    if (URGI_UNLIKELY(f->b == f->hdr))
        urgi_outq_put(&s->oq, f->hdr, (size_t)f->n);
    else
        urgi_outq_wrote(&s->oq, (size_t)f->n);
    queued(s, f->i, type, URGI_INDEX(type), f->n, q, user_data, id);
}

/* The type headers of the packets a guest sends fit in this many bytes;
 * only they are cleared, not the whole union (the hello's and ep_info's
 * fields make it hundreds of bytes). */
#define REQ_HEADER_MAX 16
#define FITS(m) _Static_assert(sizeof(((struct urg_packet *)0)->h.m) <= REQ_HEADER_MAX, #m)
FITS(set_configuration);
FITS(set_alt_setting);
FITS(get_alt_setting);
FITS(start_iso_stream);
FITS(stop_iso_stream);
FITS(start_interrupt_receiving);
FITS(stop_interrupt_receiving);
FITS(alloc_bulk_streams);
FITS(free_bulk_streams);
FITS(start_bulk_receiving);
FITS(stop_bulk_receiving);
FITS(control);
FITS(bulk);
FITS(iso);
FITS(interrupt);

static void init_packet(struct urg_packet *p, uint32_t type)
{
    p->type = type;
    p->id = 0;
    memset(&p->h, 0, REQ_HEADER_MAX);
    p->data = NULL;
    p->data_len = 0;
}

/* A control request on q (data_req() or data_req_iov() made it). */
static URGI_ALWAYS_INLINE int control(urg_session *s, const uint8_t setup[8], const struct req *q,
                                      void *user_data, uint64_t *id)
{
    uint8_t hdr[DATA_HEADERS_MAX];
    struct data_frame f = { .hdr = hdr };
    int r;
    /* Valid by construction: endpoint and requesttype agree on the
     * direction, data only OUT and as long as the length field. */
    if ((r = data_begin(s, URG_CONTROL_PACKET, q, &f)))
        return r;
    urgi_wire_put_control_endpoint(f.th, q->endpoint);
    urgi_wire_put_control_request(f.th, setup[1]);
    urgi_wire_put_control_requesttype(f.th, setup[0]);
    urgi_wire_put_control_status(f.th, 0);
    urgi_wire_put_control_value(f.th, urgi_get16(setup + 2));
    urgi_wire_put_control_index(f.th, urgi_get16(setup + 4));
    urgi_wire_put_control_length(f.th, q->length);
    data_end(s, URG_CONTROL_PACKET, &f, q, user_data, id);
    return 0;
}

/* The endpoint of a control request: the number, with the direction of
 * requesttype (they agree). 0, or URG_ERR_INVALID for a bad number. */
static inline int control_endpoint(const uint8_t setup[8], uint8_t endpoint, uint8_t *out)
{
    if (!setup || (endpoint & 0x70))
        return URG_ERR_INVALID;
    *out = (uint8_t)((endpoint & 0x0f) | (setup[0] & 0x80));
    return 0;
}

URG_API int urg_session_control(urg_session *s, uint8_t endpoint, const uint8_t setup[8],
                                void *data, void *user_data, uint64_t *id)
{
    struct req q;
    int r;
    if ((r = ready(s, true)) || (r = control_endpoint(setup, endpoint, &endpoint)) ||
        (r = data_req(&q, endpoint, urgi_get16(setup + 6), 0, data)))
        return r;
    return control(s, setup, &q, user_data, id);
}

URG_API int urg_session_control_iov(urg_session *s, uint8_t endpoint, const uint8_t setup[8],
                                    const struct iovec *iov, int iovcnt, void *user_data,
                                    uint64_t *id)
{
    struct req q;
    int r;
    if ((r = ready(s, true)) || (r = control_endpoint(setup, endpoint, &endpoint)) ||
        (r = data_req_iov(&q, endpoint, urgi_get16(setup + 6), 0, iov, iovcnt)))
        return r;
    return control(s, setup, &q, user_data, id);
}

/* A bulk request of length bytes on stream_id: 0, or why it cannot be. */
static inline int bulk_length_ok(const urg_session *s, uint32_t length, uint32_t stream_id)
{
    if (length > URG_MAX_BULK_LENGTH ||
        (length > 0xffff && !urgi_has(s->wire.caps, URG_CAP_32BITS_BULK_LENGTH)))
        return URG_ERR_TOO_LONG;
    if (stream_id && !urgi_has(s->wire.caps, URG_CAP_BULK_STREAMS))
        return URG_ERR_NO_CAP;
    return 0;
}

/* A bulk request on q (data_req() or data_req_iov() made it). */
static URGI_ALWAYS_INLINE int bulk(urg_session *s, const struct req *q, void *user_data,
                                   uint64_t *id)
{
    uint8_t hdr[DATA_HEADERS_MAX];
    struct data_frame f = { .hdr = hdr };
    int r;
    /* Valid by construction: its length within URG_MAX_BULK_LENGTH and 16
     * bits without 32bits_bulk_length, data only OUT and as long as the
     * length field; a stream id needs no cap in the codec. */
    if ((r = data_begin(s, URG_BULK_PACKET, q, &f)))
        return r;
    urgi_wire_put_bulk_endpoint(f.th, q->endpoint);
    urgi_wire_put_bulk_status(f.th, 0);
    urgi_wire_put_bulk_length(f.th, q->length);
    urgi_wire_put_bulk_stream_id(f.th, q->aux32);
    if (urgi_has(s->wire.caps, URG_CAP_32BITS_BULK_LENGTH))
        urgi_put16(f.th + URGI_BULK_LENGTH_HIGH_AT, (uint16_t)(q->length >> 16));
    data_end(s, URG_BULK_PACKET, &f, q, user_data, id);
    return 0;
}

URG_API int urg_session_bulk(urg_session *s, uint8_t endpoint, uint32_t stream_id, uint32_t length,
                             void *data, void *user_data, uint64_t *id)
{
    struct req q;
    int r;
    if ((r = ready(s, true)) || (r = bulk_length_ok(s, length, stream_id)) ||
        (r = data_req(&q, endpoint, length, stream_id, data)))
        return r;
    return bulk(s, &q, user_data, id);
}

URG_API int urg_session_bulk_iov(urg_session *s, uint8_t endpoint, uint32_t stream_id,
                                 uint32_t length, const struct iovec *iov, int iovcnt,
                                 void *user_data, uint64_t *id)
{
    struct req q;
    int r;
    if ((r = ready(s, true)) || (r = bulk_length_ok(s, length, stream_id)) ||
        (r = data_req_iov(&q, endpoint, length, stream_id, iov, iovcnt)))
        return r;
    return bulk(s, &q, user_data, id);
}

/* An interrupt OUT request on q: its payload set, the rest here. */
static int interrupt_out(urg_session *s, uint8_t endpoint, uint16_t length, struct req *q,
                         void *user_data, uint64_t *id)
{
    struct urg_packet p;
    init_packet(&p, URG_INTERRUPT_PACKET);
    p.h.interrupt.endpoint = endpoint;
    p.h.interrupt.length = length;
    q->endpoint = endpoint;
    q->length = length;
    return submit(s, &p, q, user_data, id);
}

URG_API int urg_session_interrupt_out(urg_session *s, uint8_t endpoint, uint16_t length,
                                      const void *data, void *user_data, uint64_t *id)
{
    struct req q;
    int r;
    if ((r = ready(s, true)))
        return r;
    if ((endpoint & 0x80) || (length && !data))
        return URG_ERR_INVALID;
    memset(&q, 0, sizeof(q));
    q.out = data;
    q.out_len = length;
    return interrupt_out(s, endpoint, length, &q, user_data, id);
}

URG_API int urg_session_interrupt_out_iov(urg_session *s, uint8_t endpoint, uint16_t length,
                                          const struct iovec *iov, int iovcnt, void *user_data,
                                          uint64_t *id)
{
    struct req q;
    int r;
    if ((r = ready(s, true)))
        return r;
    if (endpoint & 0x80)
        return URG_ERR_INVALID;
    if ((r = data_req_iov(&q, endpoint, length, 0, iov, iovcnt)))
        return r;
    return interrupt_out(s, endpoint, length, &q, user_data, id);
}

/* One iso OUT packet: its payload from data, or copied from the
 * segments iov (checked), offset bytes into them. */
static int iso_out(urg_session *s, uint8_t endpoint, uint16_t length, const void *data,
                   const struct iovec *iov, uint32_t offset)
{
    struct urg_packet p;
    int r;
    init_packet(&p, URG_ISO_PACKET);
    p.id = s->iso_out_seq[endpoint & 0x0f];
    p.h.iso.endpoint = endpoint;
    p.h.iso.length = length;
    p.data = data;
    p.data_len = length;
    if ((r = urgi_send_iov(s, &p, iov, offset, URGI_BOUND_REQUEST)))
        return r;
    s->iso_out_seq[endpoint & 0x0f]++;
    return 0;
}

URG_API int urg_session_iso_out(urg_session *s, uint8_t endpoint, uint16_t length,
                                const void *data)
{
    int r;
    if ((r = ready(s, true)))
        return r;
    if ((endpoint & 0x80) || (length && !data))
        return URG_ERR_INVALID;
    return iso_out(s, endpoint, length, data, NULL, 0);
}

URG_API int urg_session_iso_out_iov(urg_session *s, uint8_t endpoint, uint16_t length,
                                    const struct iovec *iov, int iovcnt, uint32_t offset)
{
    uint32_t segs, cnt;
    int r;
    if ((r = ready(s, true)))
        return r;
    if ((endpoint & 0x80) || offset > UINT32_MAX - length ||
        (r = iov_check(iov, iovcnt, offset + length, &segs, &cnt)))
        return URG_ERR_INVALID;
    return iso_out(s, endpoint, length, iov, length ? iov : NULL, offset);
}

/* A request without payload; cap is a cap it needs, or -1. */
static int simple(urg_session *s, struct urg_packet *p, int cap, uint8_t endpoint, uint32_t aux32,
                  uint8_t aux8, void *user_data, uint64_t *id)
{
    struct req q;
    int r;
    if ((r = ready(s, true)))
        return r;
    if (cap >= 0 && !urgi_has(s->wire.caps, cap))
        return URG_ERR_NO_CAP;
    memset(&q, 0, sizeof(q));
    q.endpoint = endpoint;
    q.aux32 = aux32;
    q.aux8 = aux8;
    return submit(s, p, &q, user_data, id);
}

URG_API int urg_session_set_configuration(urg_session *s, uint8_t configuration, void *user_data,
                                          uint64_t *id)
{
    struct urg_packet p;
    init_packet(&p, URG_SET_CONFIGURATION);
    p.h.set_configuration.configuration = configuration;
    return simple(s, &p, -1, 0, 0, configuration, user_data, id);
}

URG_API int urg_session_get_configuration(urg_session *s, void *user_data, uint64_t *id)
{
    struct urg_packet p;
    init_packet(&p, URG_GET_CONFIGURATION);
    return simple(s, &p, -1, 0, 0, 0, user_data, id);
}

URG_API int urg_session_set_alt_setting(urg_session *s, uint8_t interface, uint8_t alt,
                                        void *user_data, uint64_t *id)
{
    struct urg_packet p;
    init_packet(&p, URG_SET_ALT_SETTING);
    p.h.set_alt_setting.interface = interface;
    p.h.set_alt_setting.alt = alt;
    return simple(s, &p, -1, 0, 0, interface, user_data, id);
}

URG_API int urg_session_get_alt_setting(urg_session *s, uint8_t interface, void *user_data,
                                        uint64_t *id)
{
    struct urg_packet p;
    init_packet(&p, URG_GET_ALT_SETTING);
    p.h.get_alt_setting.interface = interface;
    return simple(s, &p, -1, 0, 0, interface, user_data, id);
}

URG_API int urg_session_start_interrupt_receiving(urg_session *s, uint8_t endpoint,
                                                  void *user_data, uint64_t *id)
{
    struct urg_packet p;
    init_packet(&p, URG_START_INTERRUPT_RECEIVING);
    p.h.start_interrupt_receiving.endpoint = endpoint;
    return simple(s, &p, -1, endpoint, 0, 0, user_data, id);
}

URG_API int urg_session_stop_interrupt_receiving(urg_session *s, uint8_t endpoint,
                                                 void *user_data, uint64_t *id)
{
    struct urg_packet p;
    init_packet(&p, URG_STOP_INTERRUPT_RECEIVING);
    p.h.stop_interrupt_receiving.endpoint = endpoint;
    return simple(s, &p, -1, endpoint, 0, 0, user_data, id);
}

URG_API int urg_session_start_bulk_receiving(urg_session *s, uint8_t endpoint, uint32_t stream_id,
                                             uint32_t bytes_per_transfer, uint8_t no_transfers,
                                             void *user_data, uint64_t *id)
{
    struct urg_packet p;
    init_packet(&p, URG_START_BULK_RECEIVING);
    p.h.start_bulk_receiving.endpoint = endpoint;
    p.h.start_bulk_receiving.stream_id = stream_id;
    p.h.start_bulk_receiving.bytes_per_transfer = bytes_per_transfer;
    p.h.start_bulk_receiving.no_transfers = no_transfers;
    return simple(s, &p, URG_CAP_BULK_RECEIVING, endpoint, stream_id, 0, user_data, id);
}

URG_API int urg_session_stop_bulk_receiving(urg_session *s, uint8_t endpoint, uint32_t stream_id,
                                            void *user_data, uint64_t *id)
{
    struct urg_packet p;
    init_packet(&p, URG_STOP_BULK_RECEIVING);
    p.h.stop_bulk_receiving.endpoint = endpoint;
    p.h.stop_bulk_receiving.stream_id = stream_id;
    return simple(s, &p, URG_CAP_BULK_RECEIVING, endpoint, stream_id, 0, user_data, id);
}

URG_API int urg_session_start_iso_stream(urg_session *s, uint8_t endpoint, uint8_t pkts_per_urb,
                                         uint8_t no_urbs, void *user_data, uint64_t *id)
{
    struct urg_packet p;
    init_packet(&p, URG_START_ISO_STREAM);
    p.h.start_iso_stream.endpoint = endpoint;
    p.h.start_iso_stream.pkts_per_urb = pkts_per_urb;
    p.h.start_iso_stream.no_urbs = no_urbs;
    return simple(s, &p, -1, endpoint, 0, 0, user_data, id);
}

URG_API int urg_session_stop_iso_stream(urg_session *s, uint8_t endpoint, void *user_data,
                                        uint64_t *id)
{
    struct urg_packet p;
    init_packet(&p, URG_STOP_ISO_STREAM);
    p.h.stop_iso_stream.endpoint = endpoint;
    return simple(s, &p, -1, endpoint, 0, 0, user_data, id);
}

URG_API int urg_session_alloc_bulk_streams(urg_session *s, uint32_t endpoints, uint32_t no_streams,
                                           void *user_data, uint64_t *id)
{
    struct urg_packet p;
    init_packet(&p, URG_ALLOC_BULK_STREAMS);
    p.h.alloc_bulk_streams.endpoints = endpoints;
    p.h.alloc_bulk_streams.no_streams = no_streams;
    return simple(s, &p, URG_CAP_BULK_STREAMS, 0, endpoints, 0, user_data, id);
}

URG_API int urg_session_free_bulk_streams(urg_session *s, uint32_t endpoints, void *user_data,
                                          uint64_t *id)
{
    struct urg_packet p;
    init_packet(&p, URG_FREE_BULK_STREAMS);
    p.h.free_bulk_streams.endpoints = endpoints;
    return simple(s, &p, URG_CAP_BULK_STREAMS, 0, endpoints, 0, user_data, id);
}

URG_API int urg_session_reset(urg_session *s)
{
    struct urg_packet p;
    int r;
    if ((r = ready(s, true)))
        return r;
    init_packet(&p, URG_RESET);
    return urgi_send(s, &p, URGI_BOUND_REQUEST);
}

static bool is_data_request(uint8_t type)
{
    return type == URG_CONTROL_PACKET || type == URG_BULK_PACKET || type == URG_INTERRUPT_PACKET;
}

/* Sends cancel_data_packet for pending entry i, once. */
static int send_cancel(urg_session *s, uint32_t i)
{
    struct urg_packet p;
    int r;
    if (s->pt.e[i].flags & URGI_P_CANCEL_SENT)
        return 0;
    init_packet(&p, URG_CANCEL_DATA_PACKET);
    p.id = s->pt.e[i].id;
    if ((r = urgi_send(s, &p, URGI_BOUND_NONE)))
        return r;
    s->pt.e[i].flags |= URGI_P_CANCEL_SENT;
    return 0;
}

URG_API int urg_session_cancel(urg_session *s, uint64_t id)
{
    uint32_t i;
    int r;
    if ((r = ready(s, false)))
        return r;
    i = urgi_pt_find(&s->pt, id);
    if (i == URGI_NIL)
        return URG_ERR_NOT_FOUND;
    if (!is_data_request(s->pt.e[i].type))
        return URG_ERR_NOT_CANCELLABLE;
    return send_cancel(s, i);
}

URG_API int urg_session_forget(urg_session *s, uint64_t id)
{
    struct urgi_pending *e;
    uint32_t i;
    int broken = 0;
    /* Any state: a request still pending in a session that failed (its
     * completions under way) is let go of as well. */
    if (!s)
        return URG_ERR_INVALID;
    i = urgi_pt_find(&s->pt, id);
    if (i == URGI_NIL)
        return URG_ERR_NOT_FOUND;
    e = &s->pt.e[i];
    /* The caller has its buffers back when this returns, whatever else
     * happens: an OUT payload not yet written is copied, or (no memory for
     * the copy) all output is dropped; a cancel that cannot be queued is not
     * sent. Either failure ends the session below, as a completion's does:
     * its output cannot go on with a packet missing, and the host would
     * hold the transfer. */
    if ((e->flags & URGI_P_OUT_QUEUED) && urgi_outq_detach(&s->oq, i, id)) {
        urgi_outq_clear(&s->oq);
        broken = URG_ERR_NOMEM;
    }
    e->flags &= (uint8_t)~URGI_P_OUT_QUEUED;
    if (!broken && s->state != URG_STATE_FAILED && is_data_request(e->type))
        broken = send_cancel(s, i);
    e = &s->pt.e[i];
    if (e->in)
        urgi_decoder_forget_dest(s->dec, e->in);
    urgi_stream_request_gone(s, e);
    urgi_pt_remove(&s->pt, i);
    s->forgotten++;
    if (broken) {
        /* May run callbacks (the other requests complete) and free s. */
        urgi_session_fail(s, broken, "no memory to let go of a forgotten request's buffers");
        return broken;
    }
    return 0;
}

URG_API int urg_session_send_filter(urg_session *s, const char *filter)
{
    struct urg_filter_rule *rules;
    struct urg_packet p;
    size_t count;
    char *str;
    int r, len;
    if ((r = ready(s, false)))
        return r;
    if (!filter)
        return URG_ERR_INVALID;
    if (!urgi_has(s->wire.caps, URG_CAP_FILTER))
        return URG_ERR_NO_CAP;
    if ((r = urgi_filter_parse_alloc(&s->alloc, filter, URG_FILTER_TOKEN_SEP,
                                         URG_FILTER_RULE_SEP, &rules, &count)))
        return r;
    len = urg_filter_format(rules, count, NULL, 0);
    str = urgi_malloc(&s->alloc, (size_t)len + 1);
    if (!str) {
        urgi_free(&s->alloc, rules);
        return URG_ERR_NOMEM;
    }
    urg_filter_format(rules, count, str, (size_t)len + 1);
    init_packet(&p, URG_FILTER_FILTER);
    p.data = (const uint8_t *)str;
    p.data_len = (uint32_t)len + 1;
    r = urgi_send(s, &p, URGI_BOUND_REQUEST);
    urgi_free(&s->alloc, str);
    urgi_free(&s->alloc, rules);
    return r;
}

URG_API int urg_session_filter_reject(urg_session *s)
{
    struct urg_packet p;
    int r;
    if ((r = ready(s, false)))
        return r;
    if (!urgi_has(s->wire.caps, URG_CAP_FILTER))
        return URG_ERR_NO_CAP;
    init_packet(&p, URG_FILTER_REJECT);
    /* An answer the host asked for (by announcing the device): it may use
     * the answer reserve; past that the caller may try again. */
    r = urgi_send(s, &p, URGI_BOUND_ANSWER);
    return r == URG_ERR_PROTO_FLOOD ? URG_ERR_AGAIN : r;
}
