/*
 * names.c - names of packet types (their rows, packet_types.c), caps,
 * statuses, speeds and endpoint types; the dense packet-type index; the
 * library version.
 */
#include "internal.h"

URG_API const char *urg_version(void) { return URG_VERSION_STRING; }

URG_API int urg_type_index(uint32_t type) { return urgi_type_index(type); }

URG_API uint32_t urg_type_at(int index)
{
    return index >= 0 && index < URG_TYPE_COUNT ? urgi_types[index].type : UINT32_MAX;
}

URG_API const char *urg_type_name(uint32_t type)
{
    const struct urgi_type *t = urgi_type(type);
    return t ? t->name : "unknown";
}

URG_API const char *urg_cap_name(int cap)
{
    static const char *const names[8] = {
        "bulk_streams", "connect_device_version", "filter",     "device_disconnect_ack",
        "ep_info_max_packet_size", "64bits_ids", "32bits_bulk_length", "bulk_receiving",
    };
    return (cap >= 0 && cap < 8) ? names[cap] : "unknown";
}

URG_API const char *urg_status_name(int status)
{
    static const char *const names[7] = {
        "success", "cancelled", "inval", "ioerror", "stall", "timeout", "babble",
    };
    if (status >= 0 && status < 7)
        return names[status];
    if (status == URG_STATUS_NODEV)
        return "nodev";
    return "unknown";
}

URG_API const char *urg_speed_name(int speed)
{
    switch (speed) {
    case URG_SPEED_LOW: return "low";
    case URG_SPEED_FULL: return "full";
    case URG_SPEED_HIGH: return "high";
    case URG_SPEED_SUPER: return "super";
    default: return "unknown";
    }
}

URG_API const char *urg_ep_type_name(int type)
{
    switch (type) {
    case URG_EP_CONTROL: return "control";
    case URG_EP_ISO: return "iso";
    case URG_EP_BULK: return "bulk";
    case URG_EP_INTERRUPT: return "interrupt";
    case URG_EP_INVALID: return "invalid";
    default: return "unknown";
    }
}
