#include "http/curl_multi.hpp"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <unordered_map>
#include <utility>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace runhost::http {
namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 ||
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  });
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

bool names_header(const std::vector<std::string>& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(), [&](const std::string& h) {
    return h.size() > name.size() && h[name.size()] == ':' && starts_with_nocase(h, name);
  });
}

}  // namespace

std::string_view HttpHead::header(const std::string& name) const {
  const auto it = headers.find(name);
  return it == headers.end() ? std::string_view{} : std::string_view{it->second};
}

struct CurlMulti::Impl : std::enable_shared_from_this<Impl> {
  struct Transfer {
    uint64_t id = 0;
    HttpObserver* observer = nullptr;  // null once cancelled: nothing is reported after that
    HttpRequest request;               // owns the URL and body curl points into
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    char error[CURL_ERROR_SIZE] = {};
    HttpHead head;
    bool head_delivered = false;
    bool added = false;        // in the multi handle
    bool paused = false;       // by the caller
    bool curl_paused = false;  // our write callback answered CURL_WRITEFUNC_PAUSE
    bool finished = false;     // curl is done with it; result waits for resume() when paused
    CURLcode result = CURLE_OK;
    std::string result_error;
  };

  // One socket curl asked us to watch. The descriptor only borrows curl's fd: it is released,
  // never closed, when curl says CURL_POLL_REMOVE (curl closes the fd itself right after).
  struct Socket {
    explicit Socket(boost::asio::io_context& io) : descriptor(io) {}
    ~Socket() { close(); }
    void close() {
      closed = true;
      if (descriptor.is_open()) descriptor.release();  // cancels pending waits, leaves the fd alone
    }
    boost::asio::posix::stream_descriptor descriptor;
    curl_socket_t fd = CURL_SOCKET_BAD;
    int want = 0;          // CURL_POLL_IN | CURL_POLL_OUT
    bool reading = false;  // a wait for readability is pending
    bool writing = false;
    bool closed = false;
  };

  // Counts the calls into curl in progress: observer callbacks run inside them, and curl forbids
  // removing an easy handle (or cleaning up the multi) from within its callbacks, so cancels and
  // the CurlMulti's destruction are carried out when the outermost call returns.
  struct InCurl {
    explicit InCurl(Impl& i) : impl(i) { ++impl.depth; }
    ~InCurl() {
      if (--impl.depth == 0) impl.settle();
    }
    InCurl(const InCurl&) = delete;
    InCurl& operator=(const InCurl&) = delete;
    Impl& impl;
  };

  explicit Impl(boost::asio::io_context& context) : io(context), timer(context) {}

  void open() {
    global_init_once();
    multi = curl_multi_init();
    if (multi == nullptr) return;  // every start() then fails with CURLE_OUT_OF_MEMORY
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  }

  // --- requests ------------------------------------------------------------------------------

  uint64_t start(HttpRequest request, HttpObserver& observer) {
    auto owned = std::make_unique<Transfer>();
    Transfer& t = *owned;
    t.id = next_id++;
    t.observer = &observer;
    t.request = std::move(request);
    configure(t);
    transfers.emplace(t.id, std::move(owned));
    boost::asio::post(io, [weak = weak_from_this(), id = t.id] {
      if (auto self = weak.lock()) self->activate(id);
    });
    return t.id;
  }

  // Sets the easy handle up, or records why the request cannot be made (reported by activate()).
  void configure(Transfer& t) {
    const HttpRequest& r = t.request;
    const auto refuse = [&](CURLcode code, std::string why) {
      t.finished = true;
      t.result = code;
      t.result_error = std::move(why);
    };
    if (!is_token(r.method)) return refuse(CURLE_BAD_FUNCTION_ARGUMENT, "invalid HTTP method");
    if ((!starts_with_nocase(r.url, "http://") && !starts_with_nocase(r.url, "https://")) ||
        r.url.find_first_of(" \r\n") != std::string::npos) {
      return refuse(CURLE_URL_MALFORMAT, "the URL must be http:// or https:// without spaces");
    }
    for (const auto& h : r.headers) {
      if (has_line_break(h) || h.find(':') == std::string::npos || h.front() == ':') {
        return refuse(CURLE_BAD_FUNCTION_ARGUMENT, "invalid header line");
      }
    }
    if (multi == nullptr || (t.easy = curl_easy_init()) == nullptr) return refuse(CURLE_OUT_OF_MEMORY, "out of memory");

    std::vector<std::string> lines = r.headers;
    // No "Expect: 100-continue" round trip before larger bodies, and no form content type that
    // curl would otherwise add to a POST the caller gave none.
    if (!names_header(lines, "expect")) lines.emplace_back("Expect:");
    if (!names_header(lines, "content-type")) lines.emplace_back("Content-Type:");
    for (const auto& line : lines) {
      curl_slist* next = curl_slist_append(t.headers, line.c_str());
      if (next == nullptr) return refuse(CURLE_OUT_OF_MEMORY, "out of memory");
      t.headers = next;
    }

    CURL* h = t.easy;
    curl_easy_setopt(h, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t.error);
    curl_easy_setopt(h, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    // A cancel during the DNS lookup must not join curl's resolver thread on the reactor.
    curl_easy_setopt(h, CURLOPT_QUICK_EXIT, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 20L);
    // Off (the default, said out loud): curl then drops our Authorization header when a redirect
    // leads to another host, port or scheme.
    curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 15L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(r.total_timeout.count()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, t.headers);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &Impl::on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Impl::on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);

    const bool with_body = r.method == "POST" || r.method == "PUT" || r.method == "PATCH" || !r.body.empty();
    if (r.method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (r.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
      // POST as curl's own POST, so that a 301/302/303 turns it into a GET as httpx does.
      if (r.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
      if (with_body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r.body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
      }
    }
  }

  void activate(uint64_t id) {
    Transfer* t = find(id);
    if (t == nullptr || t->observer == nullptr || closed) return;
    if (t->finished) return conclude(*t);  // refused by configure()
    if (const CURLMcode mc = curl_multi_add_handle(multi, t->easy); mc != CURLM_OK) {
      t->finished = true;
      t->result = CURLE_OUT_OF_MEMORY;
      t->result_error = curl_multi_strerror(mc);
      return conclude(*t);
    }
    t->added = true;  // curl asks for its timer now; the transfer begins from there
  }

  void cancel(uint64_t id) {
    Transfer* t = find(id);
    if (t == nullptr) return;
    t->observer = nullptr;
    if (depth > 0) {
      doomed.push_back(id);
    } else {
      drop(*t);
    }
  }

  void pause(uint64_t id) {
    if (Transfer* t = find(id)) t->paused = true;
  }

  void resume(uint64_t id) {
    Transfer* t = find(id);
    if (t == nullptr || !t->paused) return;
    t->paused = false;
    // Unpausing makes curl deliver what it held back at once, through on_body: not from here.
    boost::asio::post(io, [weak = weak_from_this(), id] {
      if (auto self = weak.lock()) self->resume_now(id);
    });
  }

  void resume_now(uint64_t id) {
    Transfer* t = find(id);
    if (t == nullptr || t->paused || t->observer == nullptr || closed) return;
    if (t->finished) return conclude(*t);
    if (!t->curl_paused) return;
    t->curl_paused = false;
    {
      InCurl in(*this);
      curl_easy_pause(t->easy, CURLPAUSE_CONT);
    }
    drain();
  }

  Transfer* find(uint64_t id) {
    const auto it = transfers.find(id);
    return it == transfers.end() ? nullptr : it->second.get();
  }

  // Forgets the transfer and frees its handles. Never inside a curl call.
  void drop(Transfer& t) {
    assert(depth == 0);
    if (t.added && !t.finished) curl_multi_remove_handle(multi, t.easy);
    if (t.easy != nullptr) curl_easy_cleanup(t.easy);
    curl_slist_free_all(t.headers);
    transfers.erase(t.id);
  }

  // The transfer has its result: report it, or keep it for resume() while paused.
  void conclude(Transfer& t) {
    if (t.observer == nullptr) return drop(t);
    if (t.paused) return;
    HttpObserver* observer = t.observer;
    const CURLcode result = t.result;
    const std::string error = std::move(t.result_error);
    drop(t);
    observer->on_done(result, error);
  }

  // --- driving curl --------------------------------------------------------------------------

  void action(curl_socket_t fd, int mask) {
    if (closed) return;
    int running = 0;
    {
      InCurl in(*this);
      curl_multi_socket_action(multi, fd, mask, &running);
    }
    drain();
  }

  // Reports what curl finished. Callbacks here may cancel or start anything, or destroy the
  // CurlMulti: nothing is held across them but ids.
  void drain() {
    while (!closed) {
      int left = 0;
      CURLMsg* msg = curl_multi_info_read(multi, &left);
      if (msg == nullptr) return;
      if (msg->msg != CURLMSG_DONE) continue;
      const CURLcode result = msg->data.result;
      char* user = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &user);
      auto* t = reinterpret_cast<Transfer*>(user);
      if (t == nullptr) continue;
      curl_multi_remove_handle(multi, t->easy);
      t->finished = true;
      t->result = result;
      if (result != CURLE_OK) t->result_error = t->error[0] != '\0' ? t->error : curl_easy_strerror(result);
      if (t->observer == nullptr) {
        drop(*t);
        continue;
      }
      // A response whose headers never closed as final (a 3xx curl could not follow) still
      // has a head to report when it ended well.
      if (result == CURLE_OK && !t->head_delivered && t->head.status > 0) {
        const uint64_t id = t->id;
        t->head_delivered = true;
        t->observer->on_head(t->head);
        if ((t = find(id)) == nullptr) continue;
      }
      conclude(*t);
    }
  }

  void settle() {
    if (closed) return teardown();
    const auto ids = std::move(doomed);
    doomed.clear();
    for (const uint64_t id : ids) {
      if (Transfer* t = find(id)) drop(*t);
    }
  }

  void close() {
    closed = true;
    for (auto& [id, t] : transfers) t->observer = nullptr;
    if (depth == 0) teardown();
  }

  void teardown() {
    timer.cancel();
    while (!transfers.empty()) drop(*transfers.begin()->second);
    for (auto& [fd, socket] : sockets) socket->close();
    sockets.clear();
    if (multi != nullptr) curl_multi_cleanup(multi);
    multi = nullptr;
  }

  // --- curl's callbacks ----------------------------------------------------------------------

  static int on_socket(CURL*, curl_socket_t fd, int what, void* user, void*) {
    return static_cast<Impl*>(user)->watch(fd, what);
  }

  int watch(curl_socket_t fd, int what) {
    if (what == CURL_POLL_REMOVE) {
      if (const auto it = sockets.find(fd); it != sockets.end()) {
        it->second->close();
        sockets.erase(it);
      }
      return 0;
    }
    std::shared_ptr<Socket>& socket = sockets[fd];
    if (!socket) {
      socket = std::make_shared<Socket>(io);
      socket->fd = fd;
      boost::system::error_code ec;
      socket->descriptor.assign(fd, ec);
      if (ec) {
        sockets.erase(fd);
        return -1;  // curl fails the transfers on this socket
      }
    }
    socket->want = what;
    if ((what & CURL_POLL_IN) != 0) arm(socket, true);
    if ((what & CURL_POLL_OUT) != 0) arm(socket, false);
    return 0;
  }

  // Waits until the socket is readable (or writable), then tells curl. asio's epoll is
  // edge-triggered while curl's socket API is specified level-triggered: bytes curl left in the
  // socket would bring no new edge. curl 7.88 reads until the socket is empty and polls it
  // itself after an unpause (the tests could not make it stall without this), so the poll()
  // with no timeout here is a guard against other versions and paths, one syscall per wait.
  void arm(const std::shared_ptr<Socket>& socket, bool read) {
    bool& pending = read ? socket->reading : socket->writing;
    if (pending || socket->closed) return;
    pending = true;
    auto ready = [weak = weak_from_this(), socket, read](const boost::system::error_code& ec) {
      (read ? socket->reading : socket->writing) = false;
      auto self = weak.lock();
      if (!self || socket->closed || ec == boost::asio::error::operation_aborted) return;
      const int direction = read ? CURL_POLL_IN : CURL_POLL_OUT;
      if ((socket->want & direction) == 0) return;
      self->action(socket->fd, (read ? CURL_CSELECT_IN : CURL_CSELECT_OUT) | (ec ? CURL_CSELECT_ERR : 0));
      if (!socket->closed && (socket->want & direction) != 0) self->arm(socket, read);
    };
    pollfd p{socket->fd, static_cast<short>(read ? POLLIN : POLLOUT), 0};
    if (::poll(&p, 1, 0) > 0) {
      boost::asio::post(io, [ready = std::move(ready)] { ready({}); });
    } else {
      socket->descriptor.async_wait(
          read ? boost::asio::posix::stream_descriptor::wait_read : boost::asio::posix::stream_descriptor::wait_write,
          std::move(ready));
    }
  }

  static int on_timer(CURLM*, long timeout_ms, void* user) {
    static_cast<Impl*>(user)->schedule(timeout_ms);
    return 0;
  }

  void schedule(long timeout_ms) {
    if (timeout_ms < 0) {
      timer.cancel();
      return;
    }
    // A 0 ms timer is still a trip through the io_context: curl is never re-entered here.
    timer.expires_after(std::chrono::milliseconds(timeout_ms));
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->action(CURL_SOCKET_TIMEOUT, 0);
    });
  }

  static size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto& t = *static_cast<Transfer*>(user);
    const size_t len = size * count;
    if (t.observer == nullptr) return 0;
    if (t.head_delivered) return len;  // trailers
    std::string_view line = trim(std::string_view(data, len));
    if (line.substr(0, 5) == "HTTP/") {  // a new response: an interim one, or after a redirect
      t.head = HttpHead{};
      const size_t space = line.find(' ');
      if (space != std::string_view::npos)
        t.head.status = std::strtol(std::string(line.substr(space + 1, 3)).c_str(), nullptr, 10);
      return len;
    }
    if (line.empty()) {
      const bool interim =
          t.head.status < 200 || (t.head.status >= 300 && t.head.status < 400 && t.head.headers.count("location") > 0);
      if (!interim) {
        t.head_delivered = true;
        t.observer->on_head(t.head);
        if (t.observer == nullptr) return 0;
      }
      return len;
    }
    if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
      t.head.headers[lower(trim(line.substr(0, colon)))] = std::string(trim(line.substr(colon + 1)));
    }
    return len;
  }

  static size_t on_write(char* data, size_t size, size_t count, void* user) {
    auto& t = *static_cast<Transfer*>(user);
    const size_t len = size * count;
    if (t.observer == nullptr) return 0;
    const auto hold = [&t] {
      t.curl_paused = true;
      return static_cast<size_t>(CURL_WRITEFUNC_PAUSE);  // curl keeps these bytes for later
    };
    if (t.paused) return hold();
    if (!t.head_delivered) {
      t.head_delivered = true;
      t.observer->on_head(t.head);
      if (t.observer == nullptr) return 0;
      if (t.paused) return hold();
    }
    const bool more = t.observer->on_body(std::string_view(data, len));
    if (t.observer == nullptr || !more) return 0;  // curl ends it with CURLE_WRITE_ERROR
    return len;
  }

  boost::asio::io_context& io;
  boost::asio::steady_timer timer;
  CURLM* multi = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Transfer>> transfers;
  std::unordered_map<curl_socket_t, std::shared_ptr<Socket>> sockets;
  std::vector<uint64_t> doomed;  // cancelled inside a curl call; dropped when it returns
  uint64_t next_id = 1;
  int depth = 0;
  bool closed = false;
};

CurlMulti::CurlMulti(boost::asio::io_context& io) : impl_(std::make_shared<Impl>(io)) {
  impl_->open();
}

CurlMulti::~CurlMulti() {
  impl_->close();
}

uint64_t CurlMulti::start(HttpRequest request, HttpObserver& observer) {
  RUNHOST_ASSERT_ON_REACTOR(impl_->io);
  return impl_->start(std::move(request), observer);
}

void CurlMulti::cancel(uint64_t id) {
  RUNHOST_ASSERT_ON_REACTOR(impl_->io);
  impl_->cancel(id);
}

void CurlMulti::pause(uint64_t id) {
  RUNHOST_ASSERT_ON_REACTOR(impl_->io);
  impl_->pause(id);
}

void CurlMulti::resume(uint64_t id) {
  RUNHOST_ASSERT_ON_REACTOR(impl_->io);
  impl_->resume(id);
}

size_t CurlMulti::active() const noexcept {
  return static_cast<size_t>(std::count_if(impl_->transfers.begin(), impl_->transfers.end(),
                                           [](const auto& entry) { return entry.second->observer != nullptr; }));
}

}  // namespace runhost::http
