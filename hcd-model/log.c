/*
 * log.c - the model's log line, through the VMM's log callback (a leaf:
 * every file of the model may call it).
 */
#include <stdarg.h>
#include <stdio.h>

#include "hcd.h"

void hcd_log(urg_hcd_dev *d, int level, const char *fmt, ...)
{
    char buf[320];
    va_list ap;
    if (!d->cfg.callbacks.log || level > d->cfg.session.log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    d->cfg.callbacks.log(d->cfg.user_data, level, buf);
}
