/*
 * log.c - the model's log line, through the VMM's log callback (a leaf:
 * every file of the model may call it).
 */
#include "hcd.h"

void hcd_log(urg_hcd_dev *d, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    urgi_vlog(d->cfg.callbacks.log, d->cfg.user_data, d->session.log_level, level, fmt, ap);
    va_end(ap);
}
