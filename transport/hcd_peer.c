/*
 * hcd_peer.c - the transport's peer that is a host-controller model device
 * (urg_hcd_transport.h): the one file of transport/ that knows the model.
 */
#include "urg_hcd_transport.h"

static int hcd_open(void *ctx, urg_session **s) { return urg_hcd_dev_connect(ctx, s); }
static void hcd_close(void *ctx, int reason) { urg_hcd_dev_disconnect(ctx, reason); }

URG_API struct urg_transport_peer urg_transport_peer_hcd(urg_hcd_dev *dev)
{
    struct urg_transport_peer p = { hcd_open, hcd_close, dev };
    return p;
}
