/*
 * vmtool.c - urg-vmtool, the real-host VM's helper for what busybox cannot
 * do (tests/realhost/image.sh builds it with cc -static; /init runs it).
 *
 *   urg-vmtool keys NAME N SECONDS
 *       Opens the evdev device whose name contains NAME, turns its
 *       autorepeat off (EVIOCSREP: a key held longer than 250 ms while the
 *       release is in transit must not add events), prints
 *       "URG-KEYS-READY eventX", then one "URG-EV TYPE CODE VALUE" line per
 *       event other than EV_SYN, until N EV_KEY events were seen
 *       ("URG-KEYS-DONE") or SECONDS passed ("URG-KEYS-TIMEOUT").
 *
 *   urg-vmtool tone FREQ SECONDS
 *       Plays 48000 Hz, 2 channels, S16_LE on the first playback PCM
 *       (/dev/snd/pcmC*D0p) through the kernel's ALSA ioctls, then drains
 *       it: frame i is a sine of FREQ Hz at half of full scale on the left
 *       (round(16384 sin(2 pi FREQ i / 48000))) and i's low 16 bits on the
 *       right, so that each frame that arrives says which it is. Prints
 *       "URG-TONE-START pcmCxDyp", "URG-TONE-DONE frames=N xruns=X", or
 *       "URG-TONE-ERROR what".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <math.h>
#include <sys/ioctl.h>

#include <linux/input.h>
#include <sound/asound.h>

static void on_alarm(int sig)
{
    static const char msg[] = "URG-KEYS-TIMEOUT\n";
    (void)sig;
    if (write(1, msg, sizeof(msg) - 1) < 0)
        _exit(2);
    _exit(1);
}

static int keys(const char *name, int want, int seconds)
{
    char path[300], dev[256] = "";
    struct input_event ev[64];
    unsigned int rep[2] = { 250, 0 }; /* delay, period 0: no autorepeat */
    int fd = -1, n = 0;
    DIR *d = opendir("/dev/input");
    struct dirent *e;
    signal(SIGALRM, on_alarm);
    alarm((unsigned)seconds);
    while (d && (e = readdir(d))) {
        char got[256] = "";
        if (strncmp(e->d_name, "event", 5))
            continue;
        snprintf(path, sizeof(path), "/dev/input/%s", e->d_name);
        fd = open(path, O_RDONLY);
        if (fd >= 0 && ioctl(fd, EVIOCGNAME(sizeof(got) - 1), got) >= 0 && strstr(got, name)) {
            snprintf(dev, sizeof(dev), "%s", e->d_name);
            break;
        }
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    if (d)
        closedir(d);
    if (fd < 0) {
        printf("URG-KEYS-NODEV %s\n", name);
        return 1;
    }
    if (ioctl(fd, EVIOCSREP, rep) < 0)
        perror("urg-vmtool: EVIOCSREP");
    printf("URG-KEYS-READY %s\n", dev);
    fflush(stdout);
    while (n < want) {
        ssize_t got = read(fd, ev, sizeof(ev));
        if (got <= 0) {
            printf("URG-KEYS-EOF\n");
            return 1;
        }
        for (size_t i = 0; i < (size_t)got / sizeof(ev[0]); i++) {
            if (ev[i].type == EV_SYN || ev[i].type == EV_REP) /* EV_REP: the EVIOCSREP above */
                continue;
            printf("URG-EV %u %u %d\n", ev[i].type, ev[i].code, ev[i].value);
            if (ev[i].type == EV_KEY)
                n++;
        }
        fflush(stdout);
    }
    close(fd);
    printf("URG-KEYS-DONE\n");
    return 0;
}

/* ---------------------------------------------------------------- tone */

static void mask_set(struct snd_pcm_hw_params *p, int param, unsigned bit)
{
    struct snd_mask *m = &p->masks[param - SNDRV_PCM_HW_PARAM_FIRST_MASK];
    memset(m, 0, sizeof(*m));
    m->bits[bit >> 5] = 1u << (bit & 31);
}

static void interval_set(struct snd_pcm_hw_params *p, int param, unsigned min, unsigned max)
{
    struct snd_interval *i = &p->intervals[param - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL];
    i->min = min;
    i->max = max;
    i->integer = 1;
}

static int tone(double freq, double seconds)
{
    enum { RATE = 48000, PERIOD = 480, PERIODS = 4 };
    struct snd_pcm_hw_params hw;
    short buf[PERIOD * 2];
    char path[300] = "";
    long frames = (long)(seconds * RATE), done = 0;
    int fd = -1, xruns = 0;
    DIR *d = opendir("/dev/snd");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (!strncmp(e->d_name, "pcmC", 4) && n > 3 && !strcmp(e->d_name + n - 3, "D0p")) {
            snprintf(path, sizeof(path), "/dev/snd/%s", e->d_name);
            break;
        }
    }
    if (d)
        closedir(d);
    if (!path[0] || (fd = open(path, O_WRONLY)) < 0) {
        printf("URG-TONE-ERROR no playback PCM\n");
        return 1;
    }
    /* All of the configuration space, then the format asked for: the
     * kernel picks the rest (as tinyalsa's pcm_open does). */
    memset(&hw, 0, sizeof(hw));
    for (int i = 0; i <= SNDRV_PCM_HW_PARAM_LAST_MASK - SNDRV_PCM_HW_PARAM_FIRST_MASK; i++)
        memset(&hw.masks[i], 0xff, sizeof(hw.masks[i]));
    for (int i = 0; i <= SNDRV_PCM_HW_PARAM_LAST_INTERVAL - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL; i++)
        hw.intervals[i].max = ~0u;
    hw.rmask = ~0u;
    hw.info = ~0u;
    mask_set(&hw, SNDRV_PCM_HW_PARAM_ACCESS, SNDRV_PCM_ACCESS_RW_INTERLEAVED);
    mask_set(&hw, SNDRV_PCM_HW_PARAM_FORMAT, SNDRV_PCM_FORMAT_S16_LE);
    mask_set(&hw, SNDRV_PCM_HW_PARAM_SUBFORMAT, SNDRV_PCM_SUBFORMAT_STD);
    interval_set(&hw, SNDRV_PCM_HW_PARAM_SAMPLE_BITS, 16, 16);
    interval_set(&hw, SNDRV_PCM_HW_PARAM_FRAME_BITS, 32, 32);
    interval_set(&hw, SNDRV_PCM_HW_PARAM_CHANNELS, 2, 2);
    interval_set(&hw, SNDRV_PCM_HW_PARAM_RATE, RATE, RATE);
    interval_set(&hw, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, PERIOD, PERIOD);
    interval_set(&hw, SNDRV_PCM_HW_PARAM_PERIODS, PERIODS, PERIODS);
    if (ioctl(fd, SNDRV_PCM_IOCTL_HW_PARAMS, &hw) < 0) {
        printf("URG-TONE-ERROR hw_params: %s\n", strerror(errno));
        return 1;
    }
    if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
        printf("URG-TONE-ERROR prepare: %s\n", strerror(errno));
        return 1;
    }
    printf("URG-TONE-START %s\n", path + 9);
    while (done < frames) {
        struct snd_xferi x;
        long n = frames - done < PERIOD ? frames - done : PERIOD;
        for (long i = 0; i < n; i++) {
            double ph = 2 * M_PI * freq * (double)(done + i) / RATE;
            buf[2 * i] = (short)lrint(16384 * sin(ph));
            buf[2 * i + 1] = (short)(unsigned short)(done + i);
        }
        memset(&x, 0, sizeof(x));
        x.buf = buf;
        x.frames = (snd_pcm_uframes_t)n;
        if (ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) < 0) {
            if (errno == EPIPE) { /* underrun: prepare again, write on */
                xruns++;
                ioctl(fd, SNDRV_PCM_IOCTL_PREPARE);
                continue;
            }
            printf("URG-TONE-ERROR write: %s\n", strerror(errno));
            return 1;
        }
        done += (long)x.result;
    }
    ioctl(fd, SNDRV_PCM_IOCTL_DRAIN);
    close(fd);
    printf("URG-TONE-DONE frames=%ld xruns=%d\n", done, xruns);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 5 && !strcmp(argv[1], "keys"))
        return keys(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc == 4 && !strcmp(argv[1], "tone"))
        return tone(atof(argv[2]), atof(argv[3]));
    fprintf(stderr, "usage: urg-vmtool keys NAME N SECONDS | tone FREQ SECONDS\n");
    return 2;
}
