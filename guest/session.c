/*
 * session.c - the session's lifecycle: creation and the hello, bytes in
 * (recv, recv window), bytes out (iovecs, consume), abort and free (with
 * free deferred while callbacks run), completion, state and stats.
 * Requests are in requests.c, what the host sends in dispatch.c.
 */
#include "session.h"

#include <stdio.h>

#define DEFAULT_MAX_OUTPUT (32u * 1024u * 1024u)

URG_API void urg_session_config_init_size(struct urg_session_config *cfg, size_t size)
{
    struct urg_session_config d;
    memset(&d, 0, sizeof(d));
    d.caps = URG_CAPS_ALL;
    d.version = "usbredir-guest " URG_VERSION_STRING;
    d.max_packet_size = URG_DEFAULT_MAX_PACKET_SIZE;
    d.policy = URG_POLICY_FAIL;
    d.max_output_bytes = DEFAULT_MAX_OUTPUT;
    d.pending_hint = 64;
    d.log_level = URG_LOG_WARNING;
    if (cfg)
        urgi_config_give(cfg, size, &d, sizeof(d));
}

void urgi_log(urg_session *s, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    urgi_vlog(s->cb.log, s->ud, s->log_level, level, fmt, ap);
    va_end(ap);
}

static void release(void *ctx, uint32_t owner, uint64_t owner_id)
{
    urg_session *s = ctx;
    if (owner < s->pt.hw && (s->pt.e[owner].flags & URGI_P_USED) && s->pt.e[owner].id == owner_id)
        s->pt.e[owner].flags &= (uint8_t)~URGI_P_OUT_QUEUED;
}

static void really_free(urg_session *s)
{
    struct urg_allocator a = s->alloc;
    urg_decoder_free(s->dec);
    urgi_pt_destroy(&s->pt);
    urgi_outq_destroy(&s->oq);
    urgi_free(&a, s->filter);
    urgi_free(&a, s->filter_str);
    urgi_free(&a, s);
}

URG_API int urg_session_new(const struct urg_session_config *given, urg_session **out)
{
    const struct urg_allocator *a;
    struct urg_session_config c, *cfg = &c;
    struct urg_decoder_config dc;
    urg_session *s;
    struct urg_packet hello;
    int r;

    if (!given || !out)
        return URG_ERR_INVALID;
    *out = NULL;
    urg_session_config_init(&c);
    if (urgi_config_take(&c, sizeof(c), given))
        return URG_ERR_INVALID;
    if (!cfg->callbacks.complete || (cfg->caps & ~URG_CAPS_ALL) ||
        (urgi_has(cfg->caps, URG_CAP_BULK_STREAMS) &&
         !urgi_has(cfg->caps, URG_CAP_EP_INFO_MAX_PACKET_SIZE)) ||
        (cfg->policy != URG_POLICY_FAIL && cfg->policy != URG_POLICY_SKIP &&
         cfg->policy != URG_POLICY_TOLERATE) ||
        (cfg->max_packet_size && cfg->max_packet_size < 1024) ||
        (cfg->filter_token_sep && !*cfg->filter_token_sep) ||
        (cfg->filter_rule_sep && !*cfg->filter_rule_sep))
        return URG_ERR_INVALID;
    a = cfg->allocator ? cfg->allocator : &urgi_default_allocator;
    s = urgi_malloc(a, sizeof(*s));
    if (!s)
        return URG_ERR_NOMEM;
    memset(s, 0, sizeof(*s));
    s->alloc = *a;
    s->cb = cfg->callbacks;
    s->ud = cfg->user_data;
    s->our_caps = cfg->caps;
    snprintf(s->version, sizeof(s->version), "%s",
             cfg->version ? cfg->version : "usbredir-guest " URG_VERSION_STRING);
    s->policy = cfg->policy;
    s->max_output = cfg->max_output_bytes;
    s->log_level = cfg->log_level;
    s->filter_flags = cfg->filter_flags;
    s->state = URG_STATE_WAIT_HELLO;

    if ((r = urgi_pt_init(&s->pt, &s->alloc, cfg->pending_hint))) {
        urgi_free(&s->alloc, s);
        return r;
    }
    if ((r = urgi_outq_init(&s->oq, &s->alloc)))
        goto fail;
    if (cfg->filter) {
        int len;
        const char *ts = cfg->filter_token_sep ? cfg->filter_token_sep : URG_FILTER_TOKEN_SEP;
        const char *rs = cfg->filter_rule_sep ? cfg->filter_rule_sep : URG_FILTER_RULE_SEP;
        if ((r = urgi_filter_parse_alloc(&s->alloc, cfg->filter, ts, rs, &s->filter,
                                         &s->filter_count)))
            goto fail;
        len = urg_filter_format(s->filter, s->filter_count, NULL, 0);
        s->filter_str = urgi_malloc(&s->alloc, (size_t)len + 1);
        if (!s->filter_str) {
            r = URG_ERR_NOMEM;
            goto fail;
        }
        urg_filter_format(s->filter, s->filter_count, s->filter_str, (size_t)len + 1);
    }

    memset(&dc, 0, sizeof(dc));
    dc.role = URG_ROLE_GUEST;
    dc.our_caps = s->our_caps;
    dc.max_packet_size = cfg->max_packet_size;
    /* Tolerance is the session's: its decoder skips what it rejects. */
    dc.policy = cfg->policy == URG_POLICY_FAIL ? URG_POLICY_FAIL : URG_POLICY_SKIP;
    dc.allocator = &s->alloc;
    dc.callbacks.header = urgi_on_header;
    dc.callbacks.packet = urgi_on_packet;
    dc.callbacks.error = urgi_on_error;
    dc.ctx = s;
    if ((r = urg_decoder_new(&dc, &s->dec)))
        goto fail;
    s->dec->whole = urgi_on_whole; /* small whole replies in one step */
    s->dec->tolerate = cfg->policy == URG_POLICY_TOLERATE;
    s->dec->tolerated = urgi_on_tolerated;

    /* Our hello goes first, always with a 12-byte header. */
    memset(&hello, 0, sizeof(hello));
    hello.type = URG_HELLO;
    memcpy(hello.h.hello.version, s->version, sizeof(s->version));
    hello.h.hello.caps[0] = s->our_caps;
    hello.h.hello.caps_words = 1;
    if ((r = urgi_send(s, &hello, URGI_BOUND_NONE)))
        goto fail;
    *out = s;
    return 0;
fail:
    really_free(s);
    return r;
}

int urgi_send(urg_session *s, struct urg_packet *p, enum urgi_bound bound)
{
    return urgi_send_iov(s, p, NULL, 0, bound);
}

int urgi_send_iov(urg_session *s, struct urg_packet *p, const struct iovec *iov, size_t offset,
                  enum urgi_bound bound)
{
    uint8_t hdr[12 + 64 + 4 * 8];
    int n, r, idx;
    n = urg_encode(&s->wire, URG_DIR_TO_HOST, p, hdr, sizeof(hdr));
    if (n < 0)
        return n;
    if ((r = urgi_output_fits(s, (size_t)n + p->data_len, bound)))
        return r;
    if ((r = urgi_outq_reserve(&s->oq, (size_t)n + p->data_len, 1)))
        return r;
    urgi_outq_put(&s->oq, hdr, (size_t)n);
    if (p->data_len && !iov)
        urgi_outq_put(&s->oq, p->data, p->data_len);
    for (uint32_t left = iov ? p->data_len : 0, k; left; iov++) {
        if (offset >= iov->iov_len) { /* before the payload */
            offset -= iov->iov_len;
            continue;
        }
        k = iov->iov_len - offset < left ? (uint32_t)(iov->iov_len - offset) : left;
        urgi_outq_put(&s->oq, (const uint8_t *)iov->iov_base + offset, k);
        left -= k;
        offset = 0;
    }
    if (bound == URGI_BOUND_ANSWER)
        s->answers_unread += (size_t)n + p->data_len;
    idx = urg_type_index(p->type);
    s->tx_packets[idx]++;
    s->tx_bytes[idx] += (uint64_t)n + p->data_len;
    return 0;
}

void urgi_complete_entry(urg_session *s, uint32_t i, struct urg_completion *c)
{
    struct urgi_pending *e = &s->pt.e[i];
    bool broken = false;

    c->id = e->id;
    c->user_data = e->user_data;
    c->type = e->type;
    c->endpoint = e->endpoint;
    c->cancel_requested = (e->flags & URGI_P_CANCEL_SENT) ? 1 : 0;
    /* The caller's OUT buffer must not be referenced once it completes:
     * copy what the transport has not taken yet. Without memory for that,
     * drop all output; the session cannot go on with a packet missing. */
    if (URGI_UNLIKELY(e->flags & URGI_P_OUT_QUEUED) && urgi_outq_detach(&s->oq, i, e->id)) {
        urgi_outq_clear(&s->oq);
        broken = true;
    }
    if (e->in)
        urgi_decoder_forget_dest(s->dec, e->in);
    urgi_stream_request_gone(s, e);
    urgi_pt_remove(&s->pt, i);
    s->completions++;
    s->cb.complete(s->ud, c);
    if (URGI_UNLIKELY(broken))
        urgi_session_end(s, URG_ERR_NOMEM, "no memory to detach a queued OUT payload");
}

void urgi_complete(urg_session *s, uint32_t i, int status, uint32_t length, const uint8_t *data,
                   const struct urg_completion *extra)
{
    struct urg_completion c;

    if (extra)
        c = *extra;
    else
        memset(&c, 0, sizeof(c));
    c.status = status;
    c.length = length;
    c.data = data;
    urgi_complete_entry(s, i, &c);
}

void urgi_complete_all(urg_session *s)
{
    struct urgi_ptable *t = &s->pt;
    const uint8_t ending = URGI_P_USED | URGI_P_ENDING;
    const uint64_t base = t->next_id;
    uint64_t below = UINT64_MAX;
    uint32_t piece[256], *order = piece, max = 256, n, i;

    /* The completions' callbacks may forget other pending requests and add
     * new ones (refused anyway once the device is gone). So the requests
     * pending now are marked first, and only marked ones complete, each
     * exactly once, oldest first (by their ids' age against the counter
     * now: pending.h). In one sorted piece when there is memory for the
     * order, else 256 at a time (a pass over the table each). */
    for (i = 0; i < t->hw; i++)
        if (t->e[i].flags & URGI_P_USED)
            t->e[i].flags |= URGI_P_ENDING;
    if (t->count > max) {
        uint32_t *all = urgi_malloc(&s->alloc, (size_t)t->count * sizeof(*all));
        if (all)
            order = all, max = t->count;
    }
    while ((n = urgi_pt_oldest_first(t, ending, base, below, order, max)) > 0) {
        below = urgi_pt_age(t, base, t->e[order[n - 1]].id);
        for (i = 0; i < n; i++)
            if ((t->e[order[i]].flags & ending) == ending)
                urgi_complete(s, order[i], URG_STATUS_NODEV, 0, NULL, NULL);
    }
    if (order != piece)
        urgi_free(&s->alloc, order);
}

void urgi_device_gone(urg_session *s)
{
    memset(&s->dev, 0, sizeof(s->dev));
    urgi_streams_clear(s);
    memset(s->iso_out_seq, 0, sizeof(s->iso_out_seq));
    s->have_ifinfo = s->have_epinfo = false;
    s->announced = false;
}

void urgi_session_end(urg_session *s, int err, const char *msg)
{
    bool was_connected;
    if (s->state == URG_STATE_FAILED)
        return;
    was_connected = s->state == URG_STATE_CONNECTED;
    s->state = URG_STATE_FAILED;
    if (!s->err) {
        s->err = err;
        snprintf(s->errmsg, sizeof(s->errmsg), "%s", msg ? msg : urg_strerror(err));
    }
    urgi_outq_clear(&s->oq);
    s->answers_unread = 0;
    urgi_decoder_fail(s->dec);
    urgi_complete_all(s);
    urgi_device_gone(s);
    if (was_connected && s->cb.device_disconnect)
        s->cb.device_disconnect(s->ud);
}

/* Entered by every call that runs callbacks; the outermost one frees a
 * session whose free was asked for from a callback. */
static void enter(urg_session *s) { urgi_guard_enter(&s->guard); }
static bool leave(urg_session *s)
{
    if (urgi_guard_leave(&s->guard)) {
        /* Whatever is still pending completes before the memory goes;
         * callbacks run from here see a session they cannot free twice. */
        urgi_guard_enter(&s->guard);
        urgi_session_end(s, 0, "session freed");
        s->guard.depth--;
        really_free(s);
        return true;
    }
    return false;
}

void urgi_session_fail(urg_session *s, int err, const char *msg)
{
    enter(s);
    urgi_session_end(s, err, msg);
    leave(s);
}

URG_API void urg_session_abort(urg_session *s, int reason)
{
    if (!s)
        return;
    urgi_session_fail(s, reason, reason ? urg_strerror(reason) : "session aborted");
}

URG_API void urg_session_free(urg_session *s)
{
    if (!s)
        return;
    if (!urgi_guard_free(&s->guard))
        return; /* the outermost call frees it */
    enter(s);
    leave(s);
}

static int finish_recv(urg_session *s, int r)
{
    if (leave(s))
        return URG_ERR_FAILED;
    if (r == 1 || s->state == URG_STATE_FAILED)
        return s->err ? s->err : URG_ERR_FAILED;
    return r;
}

URG_API int urg_session_recv(urg_session *s, const void *buf, size_t len)
{
    if (!s || (!buf && len))
        return URG_ERR_INVALID;
    if (s->guard.depth)
        return URG_ERR_BUSY;
    if (s->state == URG_STATE_FAILED)
        return URG_ERR_FAILED;
    enter(s);
    return finish_recv(s, urg_decoder_feed(s->dec, buf, len, NULL));
}

URG_API int urg_session_recv_window(urg_session *s, void **buf, size_t *len)
{
    if (!s || s->guard.depth || s->state == URG_STATE_FAILED)
        return 0;
    return urg_decoder_window(s->dec, buf, len);
}

URG_API int urg_session_recv_window_iov(urg_session *s, struct iovec *iov, int iovcnt)
{
    if (!s || !iov || s->guard.depth || s->state == URG_STATE_FAILED)
        return 0;
    return urgi_decoder_window_iov(s->dec, iov, iovcnt);
}

URG_API int urg_session_recv_commit(urg_session *s, size_t n)
{
    if (!s)
        return URG_ERR_INVALID;
    if (s->guard.depth)
        return URG_ERR_BUSY;
    if (s->state == URG_STATE_FAILED)
        return URG_ERR_FAILED;
    enter(s);
    return finish_recv(s, urg_decoder_commit(s->dec, n));
}

URG_API int urg_session_output(urg_session *s, struct iovec *iov, int iovcnt)
{
    if (!s || !iov || iovcnt < 0)
        return URG_ERR_INVALID;
    return urgi_outq_iov(&s->oq, iov, iovcnt);
}

URG_API int urg_session_consume(urg_session *s, size_t n)
{
    if (!s || n > s->oq.total)
        return URG_ERR_INVALID;
    urgi_outq_consume(&s->oq, n, release, s);
    s->answers_unread = n < s->answers_unread ? s->answers_unread - n : 0;
    return 0;
}

URG_API size_t urg_session_output_pending(const urg_session *s) { return s ? s->oq.total : 0; }

URG_API int urg_session_state(const urg_session *s) { return s->state; }

URG_API const struct urg_device *urg_session_device(const urg_session *s)
{
    return s->state == URG_STATE_CONNECTED ? &s->dev : NULL;
}

URG_API uint32_t urg_session_caps(const urg_session *s) { return s->wire.caps; }
URG_API uint32_t urg_session_peer_caps(const urg_session *s) { return s->peer_caps; }
URG_API const char *urg_session_peer_version(const urg_session *s) { return s->peer_version; }

URG_API int urg_session_error(const urg_session *s, const char **msg)
{
    if (msg)
        *msg = s->errmsg;
    return s->err;
}

URG_API size_t urg_session_pending_count(const urg_session *s) { return s->pt.count; }

URG_API void urg_session_stats(const urg_session *s, struct urg_stats *out)
{
    const struct urgi_decoder_stats *d = urgi_decoder_stats(s->dec);
    memset(out, 0, sizeof(*out));
    memcpy(out->rx_packets, d->rx_packets, sizeof(out->rx_packets));
    memcpy(out->rx_bytes, d->rx_bytes, sizeof(out->rx_bytes));
    memcpy(out->tx_packets, s->tx_packets, sizeof(out->tx_packets));
    memcpy(out->tx_bytes, s->tx_bytes, sizeof(out->tx_bytes));
    out->late_replies = s->late_replies;
    out->unsolicited_statuses = s->unsolicited;
    out->protocol_errors = d->errors;
    out->skipped_bytes = d->skipped_bytes;
    /* Every request accepted is pending, completed or forgotten. */
    out->requests = s->completions + s->forgotten + s->pt.count;
    out->completions = s->completions;
    out->payload_copies = d->payload_copies;
    out->pending_max = s->pt.hw; /* entries are taken from the free list
                                    first: hw is the most ever in use at once */
    out->forgotten = s->forgotten;
    out->stream_discarded = s->stream_discarded;
    out->unacked_disconnects = s->unacked_disconnects;
}
