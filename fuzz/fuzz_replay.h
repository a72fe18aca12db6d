/*
 * fuzz_replay.h - the main() of every replay driver: runs each file
 * named on the command line, or each file in the directories named,
 * through LLVMFuzzerTestOneInput, so a corpus is a regression test with
 * any compiler. Included by a harness under FUZZ_REPLAY_MAIN.
 */
#ifndef FUZZ_REPLAY_H
#define FUZZ_REPLAY_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define FUZZ_REPLAY_MAX (1 << 22)

static int fuzz_replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    uint8_t *buf = malloc(FUZZ_REPLAY_MAX);
    size_t n = buf ? fread(buf, 1, FUZZ_REPLAY_MAX, f) : 0;
    fclose(f);
    if (!buf)
        return 1;
    /* A copy of exactly n bytes, so ASan sees an over-read at its end. */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        exact[i] = buf[i];
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0, errors = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.')
                    continue;
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                errors += fuzz_replay_file(path);
                files++;
            }
            if (d)
                closedir(d);
        } else {
            errors += fuzz_replay_file(argv[i]);
            files++;
        }
    }
    printf("replayed %d inputs\n", files);
    return errors || files == 0;
}

#endif
