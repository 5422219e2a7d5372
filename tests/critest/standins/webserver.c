/* A stand-in for the web servers of critest's images (nginx, hostnet-nginx, httpd): what the
 * tests observe of them, and nothing more. Listens on -p PORT (all addresses, IPv4) and answers
 * every request with 200 and a short page; -pidfile FILE gets its PID (nginx's
 * /var/run/nginx.pid); -say TEXT is printed to stderr at start (httpd's start-up line, which
 * critest looks for in the container's log). Its name in the image (nginx, httpd) is the name
 * `pidof` finds. Built static by tests/critest/run.py; not part of gantry. */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char** argv) {
    int port = 80;
    const char* pidfile = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-p") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-pidfile") == 0)
            pidfile = argv[i + 1];
        else if (strcmp(argv[i], "-say") == 0)
            fprintf(stderr, "%s\n", argv[i + 1]);
    }
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (s < 0 || bind(s, (struct sockaddr*)&a, sizeof a) != 0 || listen(s, 16) != 0) {
        perror("webserver: listen");
        return 1;
    }
    if (pidfile) {
        FILE* f = fopen(pidfile, "w");
        if (!f) {
            perror(pidfile);
            return 1;
        }
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
    }
    fprintf(stderr, "listening on port %d\n", port);
    static const char page[] = "<html><body>Welcome to the stand-in web server</body></html>\n";
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        char buf[4096];
        ssize_t n = read(c, buf, sizeof buf); /* the request line and headers (one read suffices) */
        (void)n;
        char head[256];
        int h = snprintf(head, sizeof head,
                         "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: %zu\r\n"
                         "Connection: close\r\n\r\n",
                         sizeof page - 1);
        if (write(c, head, (size_t)h) == h && write(c, page, sizeof page - 1) < 0)
            perror("webserver: write");
        close(c);
    }
}
