// Thin C shims for the Linux APIs that Glibc's Swift module does not expose (epoll, eventfd,
// timerfd, accept4) plus a few helpers whose macros do not import. No logic lives here.
#pragma once
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

int cweft_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int cweft_epoll_create(void);
int cweft_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
int cweft_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout_ms);
uint32_t cweft_epoll_event_flags(const struct epoll_event *ev);
uint64_t cweft_epoll_event_data(const struct epoll_event *ev);
int cweft_eventfd(void);
int cweft_eventfd_signal(int fd);
int cweft_eventfd_drain(int fd);
int cweft_socket_tcp(int family);
int cweft_socket_udp(int family);
int cweft_set_nodelay(int fd);
int cweft_set_reuseaddr(int fd);
int cweft_set_nonblocking(int fd);
int cweft_socket_error(int fd);
uint64_t cweft_monotonic_ns(void);
void cweft_set_thread_name(const char *name);
/// Returns freed heap memory to the kernel (glibc malloc_trim(0)); 1 if some was released.
int cweft_malloc_trim(void);

static const uint32_t CWEFT_EPOLLIN = EPOLLIN;
static const uint32_t CWEFT_EPOLLOUT = EPOLLOUT;
static const uint32_t CWEFT_EPOLLERR = EPOLLERR;
static const uint32_t CWEFT_EPOLLHUP = EPOLLHUP;
static const uint32_t CWEFT_EPOLLRDHUP = EPOLLRDHUP;
