/*
 * control.c - control transfers, with the standard requests a usb-guest
 * must not simply pass through:
 *   SET_ADDRESS            handled here (the host's device keeps its own);
 *   SET_CONFIGURATION      set_configuration, after stopping every stream;
 *   GET_CONFIGURATION      get_configuration;
 *   SET_INTERFACE          set_alt_setting, after stopping that
 *                          interface's streams;
 *   GET_INTERFACE          get_alt_setting;
 *   CLEAR_FEATURE(HALT)    passed through; on success the model's state of
 *                          that endpoint is reset too;
 *   GET_DESCRIPTOR         passed through; the reply gets its fix-ups:
 *                          bMaxPacketSize0 of a SuperSpeed device shown
 *                          slower, suppress_remote_wake, then the VMM's
 *                          descriptor hook.
 * The host sends the new ep_info and interface_info before the status, so
 * the endpoint table is refreshed (device.c) before the URB completes.
 */
#include "hcd.h"

enum {
    REQ_CLEAR_FEATURE = 1,
    REQ_GET_DESCRIPTOR = 6,
    REQ_SET_ADDRESS = 5,
    REQ_GET_CONFIGURATION = 8,
    REQ_SET_CONFIGURATION = 9,
    REQ_GET_INTERFACE = 10,
    REQ_SET_INTERFACE = 11
};

int control_submit(urg_hcd_dev *d, struct endpoint *e, struct urg_urb *u, struct urb_verdict *v)
{
    uint8_t rt = u->setup[0], req = u->setup[1];
    uint16_t value = (uint16_t)(u->setup[2] | u->setup[3] << 8);
    uint16_t index = (uint16_t)(u->setup[4] | u->setup[5] << 8);
    uint16_t wlength = (uint16_t)(u->setup[6] | u->setup[7] << 8);
    uint64_t id = 0;
    int r, i;

    (void)e; /* endpoint 0's state is the device's */
    if (wlength > u->length)
        return URG_ERR_INVALID;
    if ((u->endpoint & 0x0f) == 0) {
        if (rt == 0x00 && req == REQ_SET_ADDRESS) {
            d->info.address = (uint8_t)(value & 0x7f);
            return verdict_done(v, URG_URB_SUCCESS, 0);
        }
        if (rt == 0x00 && req == REQ_SET_CONFIGURATION) {
            for (i = 1; i < 32; i++)
                if (i != 16)
                    stream_stop(d, &d->ep[i]);
            r = urg_session_set_configuration(d->s, (uint8_t)value, urb_request(u), &id);
            return verdict_sent(v, r, id, SERVED_AS_STANDARD, STD_SET_CONFIG);
        }
        if (rt == 0x80 && req == REQ_GET_CONFIGURATION) {
            r = urg_session_get_configuration(d->s, urb_request(u), &id);
            return verdict_sent(v, r, id, SERVED_AS_STANDARD, STD_GET_CONFIG);
        }
        if (rt == 0x01 && req == REQ_SET_INTERFACE) {
            for (i = 1; i < 32; i++)
                if (i != 16 && d->ep[i].info.interface == index &&
                    d->ep[i].info.type != URG_EP_INVALID)
                    stream_stop(d, &d->ep[i]);
            r = urg_session_set_alt_setting(d->s, (uint8_t)index, (uint8_t)value, urb_request(u), &id);
            return verdict_sent(v, r, id, SERVED_AS_STANDARD, STD_SET_ALT);
        }
        if (rt == 0x81 && req == REQ_GET_INTERFACE) {
            r = urg_session_get_alt_setting(d->s, (uint8_t)index, urb_request(u), &id);
            return verdict_sent(v, r, id, SERVED_AS_STANDARD, STD_GET_ALT);
        }
    }
    if (u->iovcnt)
        r = urg_session_control_iov(d->s, u->endpoint & 0x0f, u->setup, u->iov, u->iovcnt,
                                    urb_request(u), &id);
    else
        r = urg_session_control(d->s, u->endpoint & 0x0f, u->setup, u->buffer, urb_request(u),
                                &id);
    /* CLEAR_FEATURE(ENDPOINT_HALT) and GET_DESCRIPTOR go through; the model
     * acts on their result too (control_passed_result). */
    return verdict_sent(v, r, id, SERVED_BY_ENGINE,
                        (u->endpoint & 0x0f) != 0                               ? STD_NONE
                        : rt == 0x02 && req == REQ_CLEAR_FEATURE && value == 0 ? STD_CLEAR_HALT
                        : (rt == 0x80 || rt == 0x81 || rt == 0x82) && req == REQ_GET_DESCRIPTOR
                            ? STD_GET_DESCRIPTOR
                            : STD_NONE);
}

enum { DT_DEVICE = 1, DT_CONFIG = 2, CONFIG_ATTR_REMOTE_WAKEUP = 0x20 };

/* The VMM's descriptor hook on the reply (actual bytes, room for wlength):
 * on the URB's buffer, or on a copy of its segments that is written back
 * (the hook sees one buffer). The new length. */
static uint32_t descriptor_hook(urg_hcd_dev *d, struct urg_urb *u, uint32_t actual,
                                uint32_t wlength)
{
    uint8_t *bounce = NULL, *buf = wlength ? urb_data_span(u, 0, wlength) : u->buffer;
    uint32_t n;
    if (!buf && wlength) {
        bounce = d->alloc.malloc(d->alloc.ctx, wlength);
        if (!bounce) {
            hcd_log(d, URG_LOG_ERROR, "no memory for the descriptor hook: reply passed as is");
            return actual;
        }
        /* All wLength bytes: those past the reply are the URB's own, as
         * in a buffer (a hook that returns more than it writes hands them
         * on). */
        urb_data_read(u, 0, bounce, wlength);
        buf = bounce;
    }
    n = d->cfg.descriptor(d->cfg.user_data, d, u->setup, buf, actual, wlength);
    n = n < wlength ? n : wlength;
    if (bounce) {
        urb_data_write(u, 0, bounce, n);
        d->alloc.free(d->alloc.ctx, bounce);
    }
    return n;
}

uint32_t control_passed_result(urg_hcd_dev *d, struct urg_urb *u, int status, uint32_t actual)
{
    uint32_t wlength = (uint32_t)(u->setup[6] | u->setup[7] << 8);
    switch (urb_private(u)->standard) {
    case STD_CLEAR_HALT:
        if (status == URG_URB_SUCCESS)
            urg_hcd_ep_reset(d, u->setup[4]);
        break;
    case STD_GET_DESCRIPTOR:
        if (status != URG_URB_SUCCESS)
            break;
        if (actual >= 8) {
            /* The first 8 bytes of the reply, where both fix-ups look. */
            uint8_t head[8], was;
            urb_data_read(u, 0, head, 8);
            was = head[7];
            /* A SuperSpeed device shown slower: its bMaxPacketSize0 is an
             * exponent (9: 512 bytes) that a USB 2 stack reads as bytes; 64
             * is what endpoint 0 takes at high speed (as QEMU patches it). */
            if (u->setup[3] == DT_DEVICE && head[1] == DT_DEVICE &&
                d->info.usb.speed == URG_SPEED_SUPER && d->info.speed < URG_SPEED_SUPER &&
                head[7] == 9)
                head[7] = 64;
            /* bmAttributes of a configuration descriptor */
            if (d->cfg.suppress_remote_wake && u->setup[3] == DT_CONFIG && head[1] == DT_CONFIG)
                head[7] &= (uint8_t)~CONFIG_ATTR_REMOTE_WAKEUP;
            if (head[7] != was)
                urb_data_write(u, 7, head + 7, 1);
        }
        if (d->cfg.descriptor)
            actual = descriptor_hook(d, u, actual, wlength);
        break;
    default:
        break;
    }
    return actual;
}

void control_standard_result(urg_hcd_dev *d, struct urg_urb *u, const struct urg_completion *c,
                             int *status, uint32_t *actual, int *changed)
{
    uint16_t wlength = (uint16_t)(u->setup[6] | u->setup[7] << 8);
    *status = urb_status_from_wire(c->status);
    *actual = 0;
    *changed = NO_CHANGE;
    switch (urb_private(u)->standard) {
    case STD_SET_CONFIG:
        if (*status == URG_URB_SUCCESS)
            d->info.configuration = c->u.config.configuration;
        *changed = -1;
        break;
    case STD_GET_CONFIG:
        if (*status == URG_URB_SUCCESS && wlength >= 1) {
            urb_data_write(u, 0, &c->u.config.configuration, 1);
            d->info.configuration = c->u.config.configuration;
            *actual = 1;
        }
        break;
    case STD_SET_ALT:
        *changed = u->setup[4];
        break;
    case STD_GET_ALT:
        if (*status == URG_URB_SUCCESS && wlength >= 1) {
            urb_data_write(u, 0, &c->u.alt.alt, 1);
            *actual = 1;
        }
        break;
    default:
        break;
    }
    if (*status == URG_URB_SUCCESS && *actual < wlength && (u->setup[0] & 0x80))
        *status = URG_URB_SHORT;
}
