/*
 * urg_hcd_transport.h - a transport (urg_transport.h) whose peer is a
 * host-controller model device (urg_hcd.h): the adapter between the two.
 *
 * Library: libusbredirguest-transport (transport/hcd_peer.c). Apart from
 * both headers it joins, so that neither urg_transport.h nor urg_hcd.h
 * includes the other.
 */
#ifndef URG_HCD_TRANSPORT_H
#define URG_HCD_TRANSPORT_H

#include "urg_hcd.h"
#include "urg_transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A peer that is a host-controller model device: open() is
 *  urg_hcd_dev_connect(), close() is urg_hcd_dev_disconnect(). Put it in
 *  urg_transport_config.peer; dev must outlive the transport. (With dev
 *  NULL, open() fails with URG_ERR_INVALID.) */
URG_API struct urg_transport_peer urg_transport_peer_hcd(urg_hcd_dev *dev);

#ifdef __cplusplus
}
#endif
#endif /* URG_HCD_TRANSPORT_H */
