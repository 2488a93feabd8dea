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
    r = urg_session_control(d->s, u->endpoint & 0x0f, u->setup, u->buffer, urb_request(u), &id);
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
        /* A SuperSpeed device shown slower: its bMaxPacketSize0 is an
         * exponent (9: 512 bytes) that a USB 2 stack reads as bytes; 64
         * is what endpoint 0 takes at high speed (as QEMU patches it). */
        if (u->setup[3] == DT_DEVICE && actual >= 8 && u->buffer[1] == DT_DEVICE &&
            d->info.usb.speed == URG_SPEED_SUPER && d->info.speed < URG_SPEED_SUPER &&
            u->buffer[7] == 9)
            u->buffer[7] = 64;
        /* bmAttributes of a configuration descriptor, if the reply has it */
        if (d->cfg.suppress_remote_wake && u->setup[3] == DT_CONFIG && actual >= 8 &&
            u->buffer[1] == DT_CONFIG)
            u->buffer[7] &= (uint8_t)~CONFIG_ATTR_REMOTE_WAKEUP;
        if (d->cfg.descriptor) {
            uint32_t n = d->cfg.descriptor(d->cfg.user_data, d, u->setup, u->buffer, actual,
                                           wlength);
            actual = n < wlength ? n : wlength;
        }
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
            u->buffer[0] = c->u.config.configuration;
            d->info.configuration = c->u.config.configuration;
            *actual = 1;
        }
        break;
    case STD_SET_ALT:
        *changed = u->setup[4];
        break;
    case STD_GET_ALT:
        if (*status == URG_URB_SUCCESS && wlength >= 1) {
            u->buffer[0] = c->u.alt.alt;
            *actual = 1;
        }
        break;
    default:
        break;
    }
    if (*status == URG_URB_SUCCESS && *actual < wlength && (u->setup[0] & 0x80))
        *status = URG_URB_SHORT;
}
