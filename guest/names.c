/*
 * names.c - names of packet types, caps, statuses, speeds and endpoint
 * types; the dense packet-type index; the library version.
 */
#include "internal.h"

URG_API const char *urg_version(void) { return URG_VERSION_STRING; }

static const char *const control_names[28] = {
    "hello",
    "device_connect",
    "device_disconnect",
    "reset",
    "interface_info",
    "ep_info",
    "set_configuration",
    "get_configuration",
    "configuration_status",
    "set_alt_setting",
    "get_alt_setting",
    "alt_setting_status",
    "start_iso_stream",
    "stop_iso_stream",
    "iso_stream_status",
    "start_interrupt_receiving",
    "stop_interrupt_receiving",
    "interrupt_receiving_status",
    "alloc_bulk_streams",
    "free_bulk_streams",
    "bulk_streams_status",
    "cancel_data_packet",
    "filter_reject",
    "filter_filter",
    "device_disconnect_ack",
    "start_bulk_receiving",
    "stop_bulk_receiving",
    "bulk_receiving_status",
};

static const char *const data_names[5] = {
    "control_packet", "bulk_packet", "iso_packet", "interrupt_packet", "buffered_bulk_packet",
};

URG_API int urg_type_index(uint32_t type) { return urgi_type_index(type); }

URG_API uint32_t urg_type_at(int index)
{
    if (index < 28)
        return (uint32_t)index;
    return (uint32_t)(index - 28) + URG_CONTROL_PACKET;
}

URG_API const char *urg_type_name(uint32_t type)
{
    int i = urg_type_index(type);
    if (i < 0)
        return "unknown";
    return i < 28 ? control_names[i] : data_names[i - 28];
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
