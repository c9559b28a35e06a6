// SPDX-License-Identifier: GPL-3.0-or-later
// perfdash-demo: a service under load, instrumented with the perfdash client library, whose
// profiles tell a true story.
//
// Real: every operation is a scope around real work in named functions that are never inlined, so
// that a CPU profile restricted to an operation names them. `http.GET /users` parses a raw HTTP
// request (parseRequest), hashes its session token (hashSession), looks the session up in a hash
// map (`cache.get`: lookupSession), queries the database (`db.query`: waitForDatabase, then
// decodeRows) and writes the page as JSON (serializeUsers); about one request in 12 finds the user
// index stale and rebuilds it (rebuildUserIndex: a `db.scan` of every user, then decoding, sorting
// and indexing 12,000 rows), which makes it a slow instance (over 100 ms, the dashboard's default
// slow threshold). `http.POST /orders` parses a JSON order (parseOrder), inserts it (`db.query`),
// waits on the payment gateway (waitForPaymentGateway) and renders the confirmation
// (`render.order`: renderOrder). Lone `db.query` and `cache.get` operations run between requests.
// Scopes nest as they would in a real service.
//
// Simulated: the database and the payment gateway. Their answers are real blocking waits on the
// calling thread (std::this_thread::sleep_for: off-CPU time in the profile) whose durations are
// drawn at random: database queries log-normal (median 2 ms, 1% errors; during a slow spell of
// three seconds in every twenty, one query in eight takes twelve times as long), the payment
// gateway Pareto (heavy tail, capped at 2 s); errors of the HTTP requests (3% and 2%) are drawn
// too; with --rate 0 (flat out, for benchmarks) nothing waits. The raw requests come from a
// generator instead of a socket. --operations N adds N synthetic
// names whose durations are drawn and recorded, not run. --rate paces the requests and lone
// operations of each thread (nested ones come with them); the time of the work counts within the
// pacing. The default mix costs about 0.2-0.3 ms of CPU per request, so the two services that
// `perfdash --demo` launches use a fraction of one core.
#include <perfdash/perfdash.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <pthread.h>

namespace {
std::atomic<bool> g_stop { false };

void onSignal(int)
{
    g_stop.store(true);
}

struct Options
{
    int threads = 4;
    double rate = 200; // operations per second per thread; 0 = as fast as possible
    double duration = 0; // seconds; 0 = until interrupted
    int operations = 0; // extra synthetic operations, for load tests with many names
    bool steady = false; // no spikes and no memory churn, for benchmarks
    unsigned seed = 1;
};

[[noreturn]] void usage(int status)
{
    std::fprintf(status ? stderr : stdout,
        "usage: perfdash-demo [--threads N] [--rate OPS_PER_THREAD_PER_S] [--duration S] [--name NAME]\n"
        "                     [--operations N] [--steady] [--seed N]\n"
        "Streams a service's operations to perfdash (PERFDASH_SOCKET): real work, a simulated database.\n"
        "--rate paces each thread's requests; --rate 0 runs flat out, with no waits.\n");
    std::exit(status);
}

Options parse(int argc, char** argv)
{
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "perfdash-demo: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        const auto number = [&](double min) {
            const char* text = value();
            char* end = nullptr;
            const double v = std::strtod(text, &end);
            if (!end || *end || v < min) {
                std::fprintf(stderr, "perfdash-demo: %s needs a number >= %g, not '%s'\n", a.c_str(), min, text);
                std::exit(2);
            }
            return v;
        };
        if (a == "--threads")
            o.threads = int(number(1));
        else if (a == "--rate")
            o.rate = number(0);
        else if (a == "--duration")
            o.duration = number(0);
        else if (a == "--operations")
            o.operations = int(number(0));
        else if (a == "--seed")
            o.seed = unsigned(number(0));
        else if (a == "--steady")
            o.steady = true;
        else if (a == "--name")
            setenv("PERFDASH_NAME", value(), 1); // read by the client library on first use
        else if (a == "--help" || a == "-h")
            usage(0);
        else {
            std::fprintf(stderr, "perfdash-demo: unknown option '%s'\n", a.c_str());
            usage(2);
        }
    }
    return o;
}

} // namespace

// The service's work: named functions that are never inlined nor cloned, so that a profile names them.
#if defined(__clang__)
#define DEMO_WORK __attribute__((noinline))
#else
#define DEMO_WORK __attribute__((noinline, noclone))
#endif

namespace demo {

using Clock = std::chrono::steady_clock;

struct User
{
    std::uint32_t id = 0;
    std::string name;
    std::string email;
    std::string city;
    int age = 0;
};

/// The simulated database's one table, as its rows come over the wire: `id|name|email|city|age`.
struct Database
{
    std::vector<std::string> rows;
};

Database makeDatabase(std::size_t users)
{
    static const char* const first[] = { "Ada", "Alan", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis",
        "Frances", "Edsger", "Radia", "Niklaus", "Zoë", "Håkon", "Søren", "Chloé" };
    static const char* const last[] = { "Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton",
        "Ritchie", "Allen", "Dijkstra", "Perlman", "Wirth", "O'Neil", "\"The Hacker\" Smith", "Müller", "Ørsted" };
    static const char* const cities[]
        = { "Berlin", "Zürich", "São Paulo", "Kraków", "Lyon", "Osaka", "Austin", "Reykjavík" };
    Database db;
    db.rows.reserve(users);
    std::mt19937 rng(12345);
    for (std::size_t i = 0; i < users; ++i) {
        const char* f = first[rng() % 16];
        const char* l = last[rng() % 16];
        std::string row = std::to_string(i) + '|' + f + ' ' + l + '|' + f + '.' + std::to_string(i) + "@example.org|"
            + cities[rng() % 8] + '|' + std::to_string(18 + rng() % 70);
        db.rows.push_back(std::move(row));
    }
    return db;
}

struct Request
{
    std::string method;
    std::string path;
    std::vector<std::pair<std::string, std::string>> query;
    std::unordered_map<std::string, std::string> headers;
    std::string session;
};

struct OrderItem
{
    std::string sku;
    int quantity = 0;
    double price = 0;
};

struct Order
{
    std::uint64_t customer = 0;
    std::vector<OrderItem> items;
    std::string note;
};

// Sizes of the work, chosen so that a typical request costs a few hundred microseconds of CPU.
constexpr int kExtraHeaders = 96; // headers of a request besides the usual ones
constexpr int kHashRounds = 8000; // key stretching of a session token
constexpr std::size_t kPageSize = 200; // users per page of GET /users
constexpr int kOrderItems = 64;
constexpr std::size_t kUsers = 12'000; // rows of the table, all of them read by a rebuild of the index
constexpr int kSlowPathOneIn = 12; // GET /users finds its index stale this often

/// The simulated database and payment gateway: the calling thread really waits (off CPU).
DEMO_WORK void waitForDatabase(std::chrono::nanoseconds d)
{
    std::this_thread::sleep_for(d);
}

DEMO_WORK void waitForPaymentGateway(std::chrono::nanoseconds d)
{
    std::this_thread::sleep_for(d);
}

/// What the socket would deliver: a raw HTTP request with a signed session cookie.
DEMO_WORK void readRequest(std::string& out, std::mt19937_64& rng, const std::string& cookie)
{
    static const char* const hex = "0123456789abcdef";
    out.clear();
    out += "GET /users?page=";
    out += std::to_string(rng() % (kUsers / kPageSize));
    out += "&limit=200&sort=name&fields=id%2Cname%2Cemail%2Ccity&filter=active%3Dtrue HTTP/1.1\r\n"
           "Host: orders-api.internal:8080\r\n"
           "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)\r\n"
           "Accept: application/json, text/plain;q=0.9, */*;q=0.8\r\n"
           "Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-GB,en;q=0.9,de;q=0.7\r\n"
           "Connection: keep-alive\r\n";
    for (int i = 0; i < kExtraHeaders; ++i) {
        out += "X-Request-Attribute-";
        out += std::to_string(i);
        out += ":   ";
        for (std::uint64_t bits = rng(), j = 0; j < 16; ++j, bits >>= 4)
            out += hex[bits & 15];
        out += "-ffff-4000-8000-";
        for (std::uint64_t bits = rng(), j = 0; j < 16; ++j, bits >>= 4)
            out += hex[bits & 15];
        out += "\r\n";
    }
    out += "Cookie: theme=dark; lang=en-GB; consent=analytics%2Cads; session=";
    out += cookie;
    out += "; tz=Europe%2FBerlin\r\n\r\n";
}

std::string percentDecode(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() + 0 && std::isxdigit(static_cast<unsigned char>(text[i + 1]))
            && std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
            out += char(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += text[i] == '+' ? ' ' : text[i];
        }
    }
    return out;
}

bool isTokenChar(char ch)
{
    const auto c = static_cast<unsigned char>(ch);
    return std::isalnum(c) || (c && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

/// Request line, query string (percent-decoded), headers (names lower-cased, values trimmed) and
/// the session cookie.
DEMO_WORK Request parseRequest(std::string_view raw)
{
    Request r;
    std::size_t lineEnd = raw.find("\r\n");
    const std::string_view line = raw.substr(0, lineEnd);
    const std::size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    r.method = std::string(line.substr(0, sp1));
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::size_t q = target.find('?');
    r.path = percentDecode(target.substr(0, q));
    if (q != std::string_view::npos) {
        std::string_view rest = target.substr(q + 1);
        while (!rest.empty()) {
            const std::size_t amp = rest.find('&');
            const std::string_view pair = rest.substr(0, amp);
            const std::size_t eq = pair.find('=');
            r.query.emplace_back(percentDecode(pair.substr(0, eq)),
                eq == std::string_view::npos ? std::string() : percentDecode(pair.substr(eq + 1)));
            rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        }
    }
    std::size_t at = lineEnd + 2;
    while (at < raw.size()) {
        const std::size_t end = raw.find("\r\n", at);
        if (end == std::string_view::npos || end == at)
            break;
        const std::string_view header = raw.substr(at, end - at);
        at = end + 2;
        const std::size_t colon = header.find(':');
        if (colon == std::string_view::npos)
            continue;
        // RFC 9110: a name is a token, a value visible characters, spaces and tabs (or obs-text).
        bool valid = colon > 0;
        for (std::size_t i = 0; i < colon && valid; ++i)
            valid = isTokenChar(header[i]);
        for (std::size_t i = colon + 1; i < header.size() && valid; ++i) {
            const auto c = static_cast<unsigned char>(header[i]);
            valid = c == '\t' || c >= 0x20;
        }
        if (!valid)
            continue;
        std::string name(header.substr(0, colon));
        for (char& c : name)
            c = char(std::tolower(static_cast<unsigned char>(c)));
        std::string_view value = header.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
            value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
            value.remove_suffix(1);
        if (name == "cookie") {
            std::string_view cookies = value;
            while (!cookies.empty()) {
                const std::size_t semi = cookies.find(';');
                std::string_view c = cookies.substr(0, semi);
                while (!c.empty() && c.front() == ' ')
                    c.remove_prefix(1);
                if (c.substr(0, 8) == "session=")
                    r.session = std::string(c.substr(8));
                cookies = semi == std::string_view::npos ? std::string_view() : cookies.substr(semi + 1);
            }
        }
        r.headers.insert_or_assign(std::move(name), percentDecode(value));
    }
    return r;
}

/// The signature of a session token: a keyed hash stretched over kHashRounds rounds, in hex.
DEMO_WORK std::string hashSession(std::string_view secret, std::string_view token)
{
    std::uint64_t h[4] = { 0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull, 0xa54ff53a5f1d36f1ull };
    for (char c : secret)
        h[0] = (h[0] ^ std::uint8_t(c)) * 0x100000001b3ull;
    for (int round = 0; round < kHashRounds; ++round) {
        for (std::size_t i = 0; i < token.size(); ++i) {
            std::uint64_t& x = h[i & 3];
            x ^= std::uint8_t(token[i]) + std::uint64_t(round);
            x *= 0x9e3779b97f4a7c15ull;
            x ^= x >> 29;
            x += h[(i + 1) & 3];
        }
    }
    static const char* const hex = "0123456789abcdef";
    std::string out;
    out.reserve(64);
    for (std::uint64_t x : h)
        for (int shift = 60; shift >= 0; shift -= 4)
            out += hex[(x >> shift) & 15];
    return out;
}

/// `cache.get`: a hash lookup and a copy.
DEMO_WORK std::size_t lookupSession(const std::unordered_map<std::string, std::string>& cache, const std::string& key)
{
    const auto it = cache.find(key);
    if (it == cache.end())
        return 0;
    const std::string copy = it->second;
    return copy.size();
}

/// Rows `id|name|email|city|age` from the wire into users.
DEMO_WORK std::vector<User> decodeRows(const Database& db, std::size_t first, std::size_t count)
{
    std::vector<User> users;
    users.reserve(count);
    for (std::size_t i = first; i < first + count && i < db.rows.size(); ++i) {
        const std::string_view row = db.rows[i];
        std::string_view fields[5];
        std::size_t at = 0;
        for (int f = 0; f < 5; ++f) {
            const std::size_t bar = f < 4 ? row.find('|', at) : row.size();
            fields[f] = row.substr(at, bar - at);
            at = bar + 1;
        }
        User u;
        u.id = std::uint32_t(std::strtoul(std::string(fields[0]).c_str(), nullptr, 10));
        u.name = std::string(fields[1]);
        u.email = std::string(fields[2]);
        u.city = std::string(fields[3]);
        u.age = std::atoi(std::string(fields[4]).c_str());
        users.push_back(std::move(u));
    }
    return users;
}

void appendJsonString(std::string& out, std::string_view text)
{
    out += '"';
    for (char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char escaped[8];
                std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
                out += escaped;
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

/// JSON that stays ASCII: UTF-8 sequences become \uXXXX escapes (as Python's ensure_ascii).
void appendAsciiJsonString(std::string& out, std::string_view text)
{
    std::string plain;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            plain += char(c);
            continue;
        }
        unsigned code = 0;
        if ((c & 0xe0) == 0xc0 && i + 1 < text.size()) {
            code = (c & 0x1fu) << 6 | (static_cast<unsigned char>(text[i + 1]) & 0x3fu);
            i += 1;
        } else if ((c & 0xf0) == 0xe0 && i + 2 < text.size()) {
            code = (c & 0x0fu) << 12 | (static_cast<unsigned char>(text[i + 1]) & 0x3fu) << 6
                | (static_cast<unsigned char>(text[i + 2]) & 0x3fu);
            i += 2;
        } else {
            code = 0xfffd;
        }
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", code);
        plain += escaped;
    }
    appendJsonString(out, plain);
}

/// The path segment of a URL: everything but unreserved characters percent-encoded.
void appendUrlEncoded(std::string& out, std::string_view text)
{
    static const char* const hex = "0123456789ABCDEF";
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += ch;
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
}

/// The page as JSON.
DEMO_WORK std::string serializeUsers(const std::vector<User>& users, int page)
{
    std::string out;
    out.reserve(users.size() * 320 + 64);
    out += "{\"page\":";
    out += std::to_string(page);
    out += ",\"users\":[";
    for (std::size_t i = 0; i < users.size(); ++i) {
        const User& u = users[i];
        if (i)
            out += ',';
        out += "{\"id\":";
        out += std::to_string(u.id);
        out += ",\"name\":";
        appendAsciiJsonString(out, u.name);
        out += ",\"email\":";
        appendJsonString(out, u.email);
        out += ",\"city\":";
        appendAsciiJsonString(out, u.city);
        out += ",\"age\":";
        out += std::to_string(u.age);
        out += ",\"profile\":\"https://orders-api.internal/users/";
        appendUrlEncoded(out, u.city);
        out += '/';
        appendUrlEncoded(out, u.name);
        char extra[160];
        const std::uint32_t day = u.id * 2654435761u % 3650;
        std::snprintf(extra, sizeof extra,
            "\",\"since\":\"%04u-%02u-%02uT%02u:%02u:00Z\",\"score\":%.3f,\"ratio\":%.6e}", 2015 + day / 365,
            1 + day % 365 / 31 % 12, 1 + day % 28, u.id % 24, u.id % 60,
            double(u.age) / 7.0 + double(u.id % 100) / 13.0, double(u.id) / double(u.age + 1));
        out += extra;
    }
    out += "]}";
    return out;
}

/// The user index by e-mail, and by city then name: rebuilt from every row of the table.
struct UserIndex
{
    std::vector<User> byCityName;
    std::unordered_map<std::string, std::uint32_t> byEmail;
};

/// What a deployment of a real stale cache would do, now and then: read the whole table, sort it
/// and index it. The slow path of `http.GET /users`.
DEMO_WORK std::size_t rebuildUserIndex(const Database& db, UserIndex& index, std::chrono::nanoseconds scan)
{
    {
        PERFDASH_SCOPE("db.scan");
        waitForDatabase(scan);
    }
    index.byCityName = decodeRows(db, 0, db.rows.size());
    std::sort(index.byCityName.begin(), index.byCityName.end(),
        [](const User& a, const User& b) { return a.city != b.city ? a.city < b.city : a.name < b.name; });
    index.byEmail.clear();
    index.byEmail.reserve(index.byCityName.size());
    for (std::uint32_t i = 0; i < index.byCityName.size(); ++i)
        index.byEmail.emplace(index.byCityName[i].email, i);
    return index.byEmail.size();
}

/// What the socket would deliver for POST /orders: a JSON body.
DEMO_WORK void readOrder(std::string& out, std::mt19937_64& rng)
{
    out.clear();
    out += "{\"customer\":";
    out += std::to_string(rng() % 100'000);
    out += ",\"items\":[";
    for (int i = 0; i < kOrderItems; ++i) {
        if (i)
            out += ',';
        out += "{\"sku\":\"SKU-";
        out += std::to_string(10'000 + rng() % 90'000);
        out += "\",\"qty\":";
        out += std::to_string(1 + rng() % 5);
        out += ",\"price\":";
        out += std::to_string(rng() % 20'000 / 100.0);
        out += '}';
    }
    out += "],\"note\":\"leave at the door, \\\"please\\\"\"}";
}

std::string_view jsonValue(std::string_view object, std::string_view key)
{
    const std::size_t at = object.find(key);
    if (at == std::string_view::npos)
        return {};
    std::size_t begin = at + key.size();
    while (begin < object.size() && (object[begin] == '"' || object[begin] == ':' || object[begin] == ' '))
        ++begin;
    std::size_t end = begin;
    while (end < object.size() && object[end] != ',' && object[end] != '}' && object[end] != '"')
        ++end;
    return object.substr(begin, end - begin);
}

/// The order's JSON: customer, items (sku, quantity, price) and note.
DEMO_WORK Order parseOrder(std::string_view body)
{
    Order order;
    order.customer = std::strtoull(std::string(jsonValue(body, "\"customer\"")).c_str(), nullptr, 10);
    std::size_t at = body.find("\"items\":[");
    while (at != std::string_view::npos) {
        const std::size_t open = body.find('{', at + 1);
        const std::size_t close = body.find('}', open);
        if (open == std::string_view::npos || close == std::string_view::npos || open > body.find(']', at))
            break;
        const std::string_view item = body.substr(open, close - open + 1);
        OrderItem it;
        it.sku = std::string(jsonValue(item, "\"sku\""));
        it.quantity = std::atoi(std::string(jsonValue(item, "\"qty\"")).c_str());
        it.price = std::strtod(std::string(jsonValue(item, "\"price\"")).c_str(), nullptr);
        order.items.push_back(std::move(it));
        at = close;
    }
    const std::size_t note = body.find("\"note\":\"");
    if (note != std::string_view::npos) {
        for (std::size_t i = note + 8; i < body.size() && body[i] != '}'; ++i) {
            if (body[i] == '\\' && i + 1 < body.size())
                order.note += body[++i];
            else if (body[i] != '"' || body[i + 1] != '}')
                order.note += body[i];
        }
    }
    return order;
}

/// The row an INSERT sends.
DEMO_WORK std::string encodeOrderRow(const Order& order)
{
    std::string row = std::to_string(order.customer);
    double total = 0;
    for (const OrderItem& item : order.items) {
        row += '|';
        row += item.sku;
        row += 'x';
        row += std::to_string(item.quantity);
        total += item.price * item.quantity;
    }
    row += '|';
    row += std::to_string(total);
    return row;
}

/// `render.order`: the confirmation page.
DEMO_WORK std::string renderOrder(const Order& order, std::uint64_t number)
{
    std::string page = "<html><body><h1>Order " + std::to_string(number) + "</h1><table>";
    double total = 0;
    for (const OrderItem& item : order.items) {
        char row[160];
        std::snprintf(row, sizeof row, "<tr><td>%s</td><td>%d</td><td>%.2f</td><td>%.2f</td></tr>", item.sku.c_str(),
            item.quantity, item.price, item.price * item.quantity);
        page += row;
        total += item.price * item.quantity;
    }
    char sum[64];
    std::snprintf(sum, sizeof sum, "</table><p>Total %.2f</p>", total);
    page += sum;
    page += "<p>";
    for (char c : order.note) {
        if (c == '"')
            page += "&quot;";
        else if (c == '<')
            page += "&lt;";
        else
            page += c;
    }
    page += "</p></body></html>";
    return page;
}

bool inSpike(Clock::time_point start, bool steady)
{
    if (steady)
        return false;
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count();
    return s % 20 >= 17; // three slow seconds out of every twenty
}

/// One thread of the service: its requests, lone queries and cache lookups, paced to --rate.
class Worker
{
public:
    Worker(const Options& o, const Database& db, int index, Clock::time_point start)
        : m_options(o)
        , m_db(db)
        , m_index(index)
        , m_start(start)
        , m_rng(o.seed * 7919u + unsigned(index))
    {
        for (int i = 0; i < 10'000; ++i)
            m_cache.emplace("user:" + std::to_string(i), std::string(64, char('a' + i % 26)));
        // Signed session cookies of some users (`ID.SIGNATURE`), as the login would have handed out.
        static const char* const hex = "0123456789abcdef";
        for (int i = 0; i < 64; ++i) {
            std::string token = std::to_string(m_rng() % 12'000) + ':';
            for (int j = 0; j < 32; ++j)
                token += hex[m_rng() & 15];
            m_cookies.push_back(token + '.' + hashSession(m_secret, token));
        }
        for (int i = 0; i < o.operations; ++i) {
            char name[64];
            std::snprintf(name, sizeof name, "api.endpoint.%03d", i);
            m_extra.push_back(perfdash::operation(name));
        }
    }

    void run();
    std::size_t sink() const { return m_sink; }

private:
    double unit() { return m_unitDist(m_rng); }
    /// A database round trip: log-normal, median 2 ms; in a slow spell one in eight takes 12 times as long.
    std::chrono::nanoseconds databaseLatency()
    {
        const double factor = inSpike(m_start, m_options.steady) && unit() < 1.0 / 8 ? 12.0 : 1.0;
        return simulated(std::min(m_dbDist(m_rng) * factor, 2e9));
    }
    /// A simulated wait of @p ns; none when flat out (--rate 0): then the threads only compute.
    std::chrono::nanoseconds simulated(double ns) const
    {
        return std::chrono::nanoseconds(m_options.rate > 0 ? std::int64_t(ns) : 0);
    }
    DEMO_WORK void getUsers();
    DEMO_WORK void postOrder();
    DEMO_WORK void queryDatabase();
    DEMO_WORK void getCache();

    const Options& m_options;
    const Database& m_db;
    const int m_index;
    const Clock::time_point m_start;
    std::mt19937_64 m_rng;
    std::uniform_real_distribution<double> m_unitDist { 0.0, 1.0 };
    std::lognormal_distribution<double> m_dbDist { std::log(2e6), 0.6 }; // ns, median 2 ms
    std::lognormal_distribution<double> m_scanDist { std::log(120e6), 0.15 }; // ns: a scan of the table, over 100 ms
    std::lognormal_distribution<double> m_syntheticDist { std::log(300e3), 0.9 };
    std::unordered_map<std::string, std::string> m_cache;
    std::vector<std::string> m_cookies;
    const std::string m_secret = "demo-secret-7f3a";
    std::vector<perfdash::OpId> m_extra;
    UserIndex m_userIndex;
    std::string m_raw;
    std::uint64_t m_orders = 0;
    std::size_t m_sink = 0;
};

void Worker::getUsers()
{
    static const perfdash::OpId op = perfdash::operation("http.GET /users");
    perfdash::Scope request(op);
    readRequest(m_raw, m_rng, m_cookies[m_rng() % m_cookies.size()]);
    const Request r = parseRequest(m_raw);
    // The cookie is `USER:NONCE.SIGNATURE`: check the signature, then look the user's session up.
    const std::size_t dot = r.session.find('.');
    const std::string token = r.session.substr(0, dot);
    const std::string user = token.substr(0, token.find(':'));
    const bool signedOk = hashSession(m_secret, token) == r.session.substr(dot + 1);
    {
        PERFDASH_SCOPE("cache.get");
        m_sink += lookupSession(m_cache, "user:" + user);
    }
    int page = 0;
    for (const auto& [key, value] : r.query)
        if (key == "page")
            page = std::atoi(value.c_str());
    std::vector<User> users;
    {
        PERFDASH_SCOPE_VAR(query, "db.query");
        waitForDatabase(databaseLatency());
        users = decodeRows(m_db, std::size_t(page) * kPageSize, kPageSize);
        if (unit() < 0.01)
            query.fail();
    }
    if (m_rng() % kSlowPathOneIn == 0) // the index is stale: rebuild it before answering
        m_sink += rebuildUserIndex(m_db, m_userIndex, simulated(m_scanDist(m_rng)));
    m_sink += serializeUsers(users, page).size();
    const bool ok = signedOk && unit() > 0.03;
    request.meta("user", user).meta("status", ok ? "200" : "503");
    if (!ok)
        request.fail();
}

void Worker::postOrder()
{
    static const perfdash::OpId op = perfdash::operation("http.POST /orders");
    perfdash::Scope request(op);
    readOrder(m_raw, m_rng);
    const Order order = parseOrder(m_raw);
    {
        PERFDASH_SCOPE_VAR(query, "db.query");
        m_sink += encodeOrderRow(order).size();
        waitForDatabase(databaseLatency());
        if (unit() < 0.01)
            query.fail();
    }
    // Pareto, alpha 2, from 5 ms: the payment gateway is mostly quick, with a heavy tail.
    const double ms = 5.0 / std::sqrt(1.0 - unit());
    waitForPaymentGateway(simulated(std::min(ms, 2000.0) * 1e6));
    {
        PERFDASH_SCOPE_VAR(render, "render.order");
        render.meta("thread", std::to_string(m_index));
        m_sink += renderOrder(order, ++m_orders).size();
        if (unit() < 0.02)
            render.fail();
    }
    if (unit() < 0.02)
        request.fail();
}

void Worker::queryDatabase()
{
    PERFDASH_SCOPE_VAR(query, "db.query");
    waitForDatabase(databaseLatency());
    m_sink += decodeRows(m_db, m_rng() % (m_db.rows.size() - 50), 50).size();
    if (unit() < 0.01)
        query.fail();
}

void Worker::getCache()
{
    PERFDASH_SCOPE("cache.get");
    m_sink += lookupSession(m_cache, "user:" + std::to_string(m_rng() % 12'000));
}

void Worker::run()
{
    const Options& o = m_options;
    const auto period = o.rate > 0 ? std::chrono::nanoseconds(std::int64_t(1e9 / o.rate)) : std::chrono::nanoseconds(0);
    auto next = Clock::now();
    std::size_t round = 0;
    while (!g_stop.load(std::memory_order_relaxed)) {
        if (o.duration > 0 && Clock::now() - m_start >= std::chrono::duration<double>(o.duration))
            break;
        const double pick = unit();
        if (!m_extra.empty() && round % 2 == 0)
            perfdash::record(m_extra[round / 2 % m_extra.size()], std::uint64_t(m_syntheticDist(m_rng)), unit() > 0.01);
        else if (pick < 0.60)
            getCache();
        else if (pick < 0.85)
            queryDatabase();
        else if (pick < 0.95)
            getUsers();
        else
            postOrder();
        ++round;
        if (period.count() > 0) { // the work's time counts within the period
            next += period;
            if (next < Clock::now() - std::chrono::seconds(1))
                next = Clock::now(); // fell far behind: do not burst to catch up
            std::this_thread::sleep_until(next);
        }
    }
}

} // namespace demo

namespace {
using demo::Clock;

void worker(const Options& o, const demo::Database& db, int index, Clock::time_point start)
{
    // Named as services name their threads: the profile's thread filter tells them apart.
    pthread_setname_np(pthread_self(), ("worker-" + std::to_string(index)).c_str());
    demo::Worker w(o, db, index, start);
    w.run();
    if (w.sink() == 42)
        std::puts(""); // keeps the work from being optimised away
}

void memoryChurn(const Options& o, Clock::time_point start)
{
    pthread_setname_np(pthread_self(), "cache-churn");
    // A cache that fills to about 96 MiB over 30 seconds and is then dropped, again and again.
    std::vector<std::vector<char>> blocks;
    while (!g_stop.load(std::memory_order_relaxed)) {
        if (o.duration > 0 && Clock::now() - start >= std::chrono::duration<double>(o.duration))
            break;
        if (!o.steady) {
            if (blocks.size() < 96) {
                blocks.emplace_back(1 << 20, char(blocks.size()));
            } else {
                blocks.clear();
                blocks.shrink_to_fit();
            }
        }
        perfdash::gauge("cache.bytes", double(blocks.size()) * (1 << 20));
        perfdash::counter("cache.refreshes");
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
}
} // namespace

int main(int argc, char** argv)
{
    const Options o = parse(argc, argv);
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    const demo::Database db = demo::makeDatabase(demo::kUsers);
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int i = 0; i < o.threads; ++i)
        threads.emplace_back(worker, std::cref(o), std::cref(db), i, start);
    threads.emplace_back(memoryChurn, std::cref(o), start);
    for (auto& t : threads)
        t.join();
    const int rc = perfdash::flush(2000);
    if (rc != PERFDASH_OK && rc != PERFDASH_DISABLED)
        std::fprintf(stderr, "perfdash-demo: %s\n", perfdash_strerror(rc));
    return 0;
}
