/*
 * device.c - the device's lifecycle and the engine's events.
 *
 *   no session --connect--> waiting for a device --device_connect--> attached
 *   attached --device_disconnect / connection lost--> detaching
 *   detaching --urg_hcd_detach_done()--> waiting (or attached again, if a
 *   new device came meanwhile: no timed delay, an explicit handshake)
 *
 * A device that no port speed can carry is refused (filter_reject when the
 * host has the filter cap); the VMM's filter is the engine's (applied on
 * device_connect and on every interface_info).
 */

#include "hcd.h"

URG_API void urg_hcd_config_init_size(struct urg_hcd_config *cfg, size_t size)
{
    struct urg_hcd_config d;
    memset(&d, 0, sizeof(d));
    d.port_speeds = URG_SPEED_MASK_ALL;
    d.interrupt_queue = 1000;
    d.buffered_bulk_serial = 1;
    d.buffered_bulk_bytes = 512;
    d.buffered_bulk_transfers = 5;
    d.buffered_bulk_queue = 5000;
    d.stream_queue_bytes = 4u * 1024u * 1024u;
    d.iso_latency_ms = 60;
    d.pcap_bus = 1;
    d.suppress_remote_wake = 1;
    if (cfg)
        urgi_config_give(cfg, size, &d, sizeof(d));
}

static char *dup_str(const struct urg_allocator *a, const char *s)
{
    size_t n;
    char *c;
    if (!s)
        return NULL;
    n = strlen(s) + 1;
    c = a->malloc(a->ctx, n);
    if (c)
        memcpy(c, s, n);
    return c;
}

URG_API int urg_hcd_dev_new(const struct urg_hcd_config *given, urg_hcd_dev **out)
{
    struct urg_allocator a = *urg_allocator_default();
    struct urg_hcd_config c, *cfg = &c;
    struct urg_session_config sc;
    urg_hcd_dev *d;
    int i;
    if (!given || !out)
        return URG_ERR_INVALID;
    *out = NULL;
    urg_hcd_config_init(&c);
    urg_session_config_init(&sc);
    if (urgi_config_take(&c, sizeof(c), given) ||
        (c.session && urgi_config_take(&sc, sizeof(sc), c.session)))
        return URG_ERR_INVALID;
    c.session = &sc;
    if (!cfg->callbacks.urb_complete || !(cfg->port_speeds & URG_SPEED_MASK_ALL))
        return URG_ERR_INVALID;
    if (cfg->session->allocator)
        a = *cfg->session->allocator;
    if ((cfg->filter_token_sep && !*cfg->filter_token_sep) ||
        (cfg->filter_rule_sep && !*cfg->filter_rule_sep))
        return URG_ERR_INVALID;
    if (cfg->filter) {
        const char *ts = cfg->filter_token_sep ? cfg->filter_token_sep : URG_FILTER_TOKEN_SEP;
        const char *rs = cfg->filter_rule_sep ? cfg->filter_rule_sep : URG_FILTER_RULE_SEP;
        size_t n;
        if (urg_filter_parse_sep(cfg->filter, ts, rs, NULL, 0, &n))
            return URG_ERR_FILTER_SYNTAX;
    }
    d = a.malloc(a.ctx, sizeof(*d));
    if (!d)
        return URG_ERR_NOMEM;
    memset(d, 0, sizeof(*d));
    d->alloc = a;
    d->cfg = *cfg;
    d->filter = dup_str(&a, cfg->filter);
    d->session = sc;
    d->cfg.session = &d->session;
    d->version = dup_str(&a, sc.version);
    d->pcap_path = dup_str(&a, cfg->pcap_path);
    d->filter_token_sep = dup_str(&a, cfg->filter_token_sep);
    d->filter_rule_sep = dup_str(&a, cfg->filter_rule_sep);
    if ((cfg->filter && !d->filter) || (sc.version && !d->version) ||
        (cfg->pcap_path && !d->pcap_path) ||
        (cfg->filter_token_sep && !d->filter_token_sep) ||
        (cfg->filter_rule_sep && !d->filter_rule_sep)) {
        urg_hcd_dev_free(d);
        return URG_ERR_NOMEM;
    }
    d->cfg.filter = d->filter;
    d->session.version = d->version;
    d->cfg.pcap_path = d->pcap_path;
    d->cfg.filter_token_sep = d->filter_token_sep;
    d->cfg.filter_rule_sep = d->filter_rule_sep;
    d->session.allocator = NULL; /* we keep our copy in d->alloc */
    if (!d->cfg.buffered_bulk_transfers)
        d->cfg.buffered_bulk_transfers = 5;
    if (!d->cfg.buffered_bulk_bytes)
        d->cfg.buffered_bulk_bytes = 512;
    if (!d->cfg.iso_latency_ms)
        d->cfg.iso_latency_ms = 60;
    for (i = 0; i < 32; i++) {
        d->ep[i].addr = urg_ep_address(i);
        d->ep[i].info.type = URG_EP_INVALID;
        pktq_init(&d->ep[i].q, cfg->interrupt_queue, cfg->stream_queue_bytes);
    }
    if (d->pcap_path) {
        int r = usbmon_open(d->pcap_path, cfg->pcap_bus, &d->alloc, &d->pcap);
        if (r) {
            urg_hcd_dev_free(d);
            return r;
        }
    }
    d->state = D_NO_SESSION;
    *out = d;
    return 0;
}

URG_API void urg_hcd_dev_free(urg_hcd_dev *d)
{
    int i;
    if (!d)
        return;
    urg_hcd_dev_disconnect(d, 0);
    for (i = 0; i < 32; i++)
        urb_flush(d, &d->ep[i], URG_URB_NODEV);
    for (i = 0; i < 32; i++)
        pktq_destroy(&d->ep[i].q, &d->alloc);
    usbmon_close(d->pcap);
    d->alloc.free(d->alloc.ctx, d->filter);
    d->alloc.free(d->alloc.ctx, d->version);
    d->alloc.free(d->alloc.ctx, d->pcap_path);
    d->alloc.free(d->alloc.ctx, d->filter_token_sep);
    d->alloc.free(d->alloc.ctx, d->filter_rule_sep);
    d->alloc.free(d->alloc.ctx, d);
}

URG_API urg_session *urg_hcd_dev_session(const urg_hcd_dev *d) { return d ? d->s : NULL; }

URG_API const struct urg_hcd_device *urg_hcd_dev_info(const urg_hcd_dev *d)
{
    return (d && d->state == D_ATTACHED) ? &d->info : NULL;
}

/* ---------------------------------------------------------------- attach */

/* The endpoint table from the engine's device state. Returns the
 * endpoints that changed (a mask of urg_ep_index() bits): new endpoints,
 * whose buffered bulk receiving is decided afresh. */
static uint32_t load_endpoints(urg_hcd_dev *d, const struct urg_device *usb)
{
    uint32_t fresh = 0;
    int i;
    for (i = 0; i < 32; i++) {
        struct endpoint *e = &d->ep[i];
        struct urg_endpoint n = usb->ep[i];
        bool changed = n.type != e->info.type || n.max_packet_size != e->info.max_packet_size ||
                       n.interface != e->info.interface || n.interval != e->info.interval;
        if (changed && e->stream != ST_NONE)
            stream_forget(d, e); /* the host dropped it with the old setting */
        if (changed) {
            e->iso_clock = 0;
            e->buffered = false;
            e->ftdi = false;
            fresh |= 1u << i;
        }
        e->info = n;
        e->q.target = n.type == URG_EP_BULK ? d->cfg.buffered_bulk_queue : d->cfg.interrupt_queue;
        if (!e->q.target)
            e->q.target = 1;
    }
    return fresh;
}

/* The device cannot be served (reason, why): said once per connection (a
 * host announcing devices again and again does not flood the log; the
 * rest go to the debug level), filter_reject sent where the host has the
 * filter cap, the VMM told. */
static void refuse(urg_hcd_dev *d, const struct urg_device *usb, int reason, const char *why)
{
    hcd_log(d, d->refused_said ? URG_LOG_DEBUG : URG_LOG_WARNING,
            "device %04x:%04x (%s speed) refused: %s", usb->vendor_id, usb->product_id,
            urg_speed_name(usb->speed), why);
    d->refused_said = true;
    d->rejected = true;
    if (has_cap(d, URG_CAP_FILTER))
        urg_session_filter_reject(d->s);
    if (d->cfg.callbacks.rejected)
        d->cfg.callbacks.rejected(d->cfg.user_data, d, reason);
}

static void do_attach(urg_hcd_dev *d)
{
    const struct urg_device *usb = urg_session_device(d->s);
    char why[160];
    uint32_t mask;
    int speed, i, r;
    d->held = false;
    if (!usb)
        return;
    r = speed_choose(usb, urg_session_caps(d->s), d->cfg.port_speeds, &speed, &mask, why,
                     sizeof(why));
    if (r) {
        refuse(d, usb, r, why);
        return;
    }
    memset(&d->info, 0, sizeof(d->info));
    d->info.usb = *usb;
    d->info.speed = (uint8_t)speed;
    d->info.speed_mask = mask;
    for (i = 0; i < 32; i++) {
        d->ep[i].info.type = URG_EP_INVALID;
        d->ep[i].buffered = d->ep[i].ftdi = false;
        d->ep[i].error = d->ep[i].iso_error = 0;
        d->ep[i].iso_clock = 0;
        d->ep[i].stream = ST_NONE;
        memset(&d->ep[i].st, 0, sizeof(d->ep[i].st));
    }
    load_endpoints(d, usb);
    serial_apply(d, ~0u);
    d->rejected = false;
    d->state = D_ATTACHED;
    hcd_log(d, URG_LOG_INFO, "attach %04x:%04x at %s speed", usb->vendor_id, usb->product_id,
            urg_speed_name(speed));
    if (d->cfg.callbacks.attach)
        d->cfg.callbacks.attach(d->cfg.user_data, d, &d->info);
}

/* The device went away: URBs end, streams are forgotten, the VMM unplugs. */
static void do_detach(urg_hcd_dev *d)
{
    int i;
    if (d->state != D_ATTACHED)
        return;
    for (i = 0; i < 32; i++) {
        struct endpoint *e = &d->ep[i];
        stream_forget(d, e);
        urb_flush(d, e, URG_URB_NODEV);
    }
    d->state = D_DETACHING;
    hcd_log(d, URG_LOG_INFO, "detach %04x:%04x", d->info.usb.vendor_id, d->info.usb.product_id);
    if (d->cfg.callbacks.detach)
        d->cfg.callbacks.detach(d->cfg.user_data, d);
    else
        urg_hcd_detach_done(d);
}

URG_API void urg_hcd_detach_done(urg_hcd_dev *d)
{
    if (!d || d->state != D_DETACHING)
        return;
    d->state = d->s ? D_WAIT_DEVICE : D_NO_SESSION;
    if (d->held && d->s && urg_session_device(d->s))
        do_attach(d);
}

/* ---------------------------------------------------------------- engine events */

/* A request the model made is answered: routed by what it was for. */
static void on_engine_complete(void *ud, const struct urg_completion *c)
{
    urg_hcd_dev *d = ud;
    struct hcd_request *r = c->user_data;
    if (r) {
        switch (r->kind) {
        case REQUEST_URB: urb_engine_done(d, r, c); return;
        case REQUEST_OUT_COPY: interrupt_out_copy_done(d, c); return;
        case REQUEST_STREAMS: bulk_streams_done(d, c); return;
        }
    }
    /* A stream's start or stop (no record: the type and endpoint say it). */
    if (is_stream_start(c->type)) {
        if (stream_started(d, c))
            urb_serve(d, endpoint_of(d, c->endpoint));
    } else if (c->status != URG_STATUS_SUCCESS && c->status != URG_STATUS_NODEV) {
        /* a stop: nothing waits for it */
        hcd_log(d, URG_LOG_WARNING, "%s on 0x%02x: %s", urg_type_name(c->type), c->endpoint,
                urg_status_name(c->status));
    }
}

static void on_engine_device_connect(void *ud, const struct urg_device *usb)
{
    urg_hcd_dev *d = ud;
    (void)usb;
    if (d->state == D_DETACHING) {
        d->held = true; /* attached once the VMM finished the detach */
        return;
    }
    do_attach(d);
}

static void on_engine_device_disconnect(void *ud)
{
    urg_hcd_dev *d = ud;
    d->held = false;
    d->rejected = false;
    do_detach(d);
}

static void on_engine_device_rejected(void *ud, const struct urg_device *usb, int reason)
{
    urg_hcd_dev *d = ud;
    (void)usb;
    d->held = false;
    do_detach(d); /* if it had been attached (new interfaces denied) */
    if (d->cfg.callbacks.rejected)
        d->cfg.callbacks.rejected(d->cfg.user_data, d, reason);
}

static void on_engine_device_info(void *ud, const struct urg_device *usb, unsigned what)
{
    urg_hcd_dev *d = ud;
    (void)what;
    char why[160];
    uint32_t mask;
    int speed, r;
    if (d->state != D_ATTACHED)
        return;
    /* A new configuration or alternate setting may not fit the speed the
     * device is shown at (an iso endpoint on a device shown slower than
     * its own speed): the device goes, as QEMU's usb-redir does. */
    r = speed_choose(usb, urg_session_caps(d->s), URG_SPEED_MASK(d->info.speed), &speed, &mask,
                     why, sizeof(why));
    if (r) {
        do_detach(d);
        refuse(d, usb, r, why);
        return;
    }
    d->info.speed_mask = urg_hcd_speed_mask(usb, urg_session_caps(d->s)) & d->cfg.port_speeds;
    d->info.usb = *usb;
    serial_apply(d, load_endpoints(d, usb));
    if (d->cfg.callbacks.endpoints_changed)
        d->cfg.callbacks.endpoints_changed(d->cfg.user_data, d);
}

static void on_engine_stream_data(void *ud, const struct urg_stream_data *sd)
{
    urg_hcd_dev *d = ud;
    if (d->state == D_ATTACHED && stream_data(d, sd))
        urb_serve(d, endpoint_of(d, sd->endpoint));
}

static void on_engine_stream_status(void *ud, const struct urg_stream_status *st)
{
    urg_hcd_dev *d = ud;
    if (d->state == D_ATTACHED && stream_status(d, st))
        urb_serve(d, endpoint_of(d, st->endpoint));
}

/* A packet the engine refused. A fatal error is not logged here: it fails
 * the session, urg_session_recv() returns it, and whoever moves the bytes
 * ends the connection and says why, once (the transport logs it with the
 * address; urg_session_error() gives the message). A skipped packet has no
 * one else to tell. */
static void on_engine_error(void *ud, int err, const char *msg, int fatal)
{
    urg_hcd_dev *d = ud;
    if (!fatal)
        hcd_log(d, URG_LOG_WARNING, "host: %s (%s), skipped", msg, urg_error_name(err));
}

static void on_engine_log(void *ud, int level, const char *msg)
{
    urg_hcd_dev *d = ud;
    if (d->cfg.callbacks.log)
        d->cfg.callbacks.log(d->cfg.user_data, level, msg);
}

URG_API int urg_hcd_dev_connect(urg_hcd_dev *d, urg_session **session)
{
    struct urg_session_config sc;
    int r;
    if (!d)
        return URG_ERR_INVALID;
    if (d->s)
        return URG_ERR_STATE;
    sc = d->session;
    sc.allocator = &d->alloc;
    sc.filter = d->filter;
    sc.filter_token_sep = d->filter_token_sep;
    sc.filter_rule_sep = d->filter_rule_sep;
    memset(&sc.callbacks, 0, sizeof(sc.callbacks));
    sc.callbacks.complete = on_engine_complete;
    sc.callbacks.device_connect = on_engine_device_connect;
    sc.callbacks.device_disconnect = on_engine_device_disconnect;
    sc.callbacks.device_rejected = on_engine_device_rejected;
    sc.callbacks.device_info = on_engine_device_info;
    sc.callbacks.stream_data = on_engine_stream_data;
    sc.callbacks.stream_status = on_engine_stream_status;
    sc.callbacks.error = on_engine_error;
    sc.callbacks.log = on_engine_log;
    sc.user_data = d;
    if ((r = urg_session_new(&sc, &d->s)))
        return r;
    if (d->state == D_NO_SESSION)
        d->state = D_WAIT_DEVICE;
    d->held = d->rejected = false;
    d->refused_said = false; /* each connection says it once */
    if (session)
        *session = d->s;
    return 0;
}

URG_API void urg_hcd_dev_disconnect(urg_hcd_dev *d, int reason)
{
    urg_session *s;
    if (!d || !d->s)
        return;
    s = d->s;
    if (reason)
        hcd_log(d, URG_LOG_INFO, "connection lost: %s", urg_strerror(reason));
    /* The engine completes everything (NODEV) and reports the device gone. */
    urg_session_abort(s, reason);
    d->s = NULL;
    d->held = false;
    if (d->state == D_ATTACHED)
        do_detach(d); /* in case the engine had no device to report */
    if (d->state == D_WAIT_DEVICE)
        d->state = D_NO_SESSION;
    urg_session_free(s);
}
