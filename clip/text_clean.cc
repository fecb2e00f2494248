#include "clip/text_clean.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "unicode/locid.h"
#include "unicode/normalizer2.h"
#include "unicode/uchar.h"
#include "unicode/unistr.h"
#include "unicode/utf8.h"

namespace clip {
namespace {

using U32 = std::u32string;

constexpr char32_t kReplacementChar = 0xFFFD;

struct NamedEntity {
  const char* name;
  const char32_t* value;
};

// Named character references accepted by HtmlUnescape: the HTML 4.01 set
// (plus &apos;) and the HTML5 upper-case spellings of the legacy names
// (&AMP;), with their semicolon, and the legacy names that HTML5 also
// decodes without one. Sorted by name.
constexpr NamedEntity kHtmlEntities[] = {
    {"AElig", U"\U000000C6"},     {"AElig;", U"\U000000C6"},
    {"AMP", U"\U00000026"},       {"AMP;", U"\U00000026"},
    {"Aacute", U"\U000000C1"},    {"Aacute;", U"\U000000C1"},
    {"Acirc", U"\U000000C2"},     {"Acirc;", U"\U000000C2"},
    {"Agrave", U"\U000000C0"},    {"Agrave;", U"\U000000C0"},
    {"Alpha;", U"\U00000391"},    {"Aring", U"\U000000C5"},
    {"Aring;", U"\U000000C5"},    {"Atilde", U"\U000000C3"},
    {"Atilde;", U"\U000000C3"},   {"Auml", U"\U000000C4"},
    {"Auml;", U"\U000000C4"},     {"Beta;", U"\U00000392"},
    {"COPY", U"\U000000A9"},      {"COPY;", U"\U000000A9"},
    {"Ccedil", U"\U000000C7"},    {"Ccedil;", U"\U000000C7"},
    {"Chi;", U"\U000003A7"},      {"Dagger;", U"\U00002021"},
    {"Delta;", U"\U00000394"},    {"ETH", U"\U000000D0"},
    {"ETH;", U"\U000000D0"},      {"Eacute", U"\U000000C9"},
    {"Eacute;", U"\U000000C9"},   {"Ecirc", U"\U000000CA"},
    {"Ecirc;", U"\U000000CA"},    {"Egrave", U"\U000000C8"},
    {"Egrave;", U"\U000000C8"},   {"Epsilon;", U"\U00000395"},
    {"Eta;", U"\U00000397"},      {"Euml", U"\U000000CB"},
    {"Euml;", U"\U000000CB"},     {"GT", U"\U0000003E"},
    {"GT;", U"\U0000003E"},       {"Gamma;", U"\U00000393"},
    {"Iacute", U"\U000000CD"},    {"Iacute;", U"\U000000CD"},
    {"Icirc", U"\U000000CE"},     {"Icirc;", U"\U000000CE"},
    {"Igrave", U"\U000000CC"},    {"Igrave;", U"\U000000CC"},
    {"Iota;", U"\U00000399"},     {"Iuml", U"\U000000CF"},
    {"Iuml;", U"\U000000CF"},     {"Kappa;", U"\U0000039A"},
    {"LT", U"\U0000003C"},        {"LT;", U"\U0000003C"},
    {"Lambda;", U"\U0000039B"},   {"Mu;", U"\U0000039C"},
    {"Ntilde", U"\U000000D1"},    {"Ntilde;", U"\U000000D1"},
    {"Nu;", U"\U0000039D"},       {"OElig;", U"\U00000152"},
    {"Oacute", U"\U000000D3"},    {"Oacute;", U"\U000000D3"},
    {"Ocirc", U"\U000000D4"},     {"Ocirc;", U"\U000000D4"},
    {"Ograve", U"\U000000D2"},    {"Ograve;", U"\U000000D2"},
    {"Omega;", U"\U000003A9"},    {"Omicron;", U"\U0000039F"},
    {"Oslash", U"\U000000D8"},    {"Oslash;", U"\U000000D8"},
    {"Otilde", U"\U000000D5"},    {"Otilde;", U"\U000000D5"},
    {"Ouml", U"\U000000D6"},      {"Ouml;", U"\U000000D6"},
    {"Phi;", U"\U000003A6"},      {"Pi;", U"\U000003A0"},
    {"Prime;", U"\U00002033"},    {"Psi;", U"\U000003A8"},
    {"QUOT", U"\U00000022"},      {"QUOT;", U"\U00000022"},
    {"REG", U"\U000000AE"},       {"REG;", U"\U000000AE"},
    {"Rho;", U"\U000003A1"},      {"Scaron;", U"\U00000160"},
    {"Sigma;", U"\U000003A3"},    {"THORN", U"\U000000DE"},
    {"THORN;", U"\U000000DE"},    {"Tau;", U"\U000003A4"},
    {"Theta;", U"\U00000398"},    {"Uacute", U"\U000000DA"},
    {"Uacute;", U"\U000000DA"},   {"Ucirc", U"\U000000DB"},
    {"Ucirc;", U"\U000000DB"},    {"Ugrave", U"\U000000D9"},
    {"Ugrave;", U"\U000000D9"},   {"Upsilon;", U"\U000003A5"},
    {"Uuml", U"\U000000DC"},      {"Uuml;", U"\U000000DC"},
    {"Xi;", U"\U0000039E"},       {"Yacute", U"\U000000DD"},
    {"Yacute;", U"\U000000DD"},   {"Yuml;", U"\U00000178"},
    {"Zeta;", U"\U00000396"},     {"aacute", U"\U000000E1"},
    {"aacute;", U"\U000000E1"},   {"acirc", U"\U000000E2"},
    {"acirc;", U"\U000000E2"},    {"acute", U"\U000000B4"},
    {"acute;", U"\U000000B4"},    {"aelig", U"\U000000E6"},
    {"aelig;", U"\U000000E6"},    {"agrave", U"\U000000E0"},
    {"agrave;", U"\U000000E0"},   {"alefsym;", U"\U00002135"},
    {"alpha;", U"\U000003B1"},    {"amp", U"\U00000026"},
    {"amp;", U"\U00000026"},      {"and;", U"\U00002227"},
    {"ang;", U"\U00002220"},      {"apos;", U"\U00000027"},
    {"aring", U"\U000000E5"},     {"aring;", U"\U000000E5"},
    {"asymp;", U"\U00002248"},    {"atilde", U"\U000000E3"},
    {"atilde;", U"\U000000E3"},   {"auml", U"\U000000E4"},
    {"auml;", U"\U000000E4"},     {"bdquo;", U"\U0000201E"},
    {"beta;", U"\U000003B2"},     {"brvbar", U"\U000000A6"},
    {"brvbar;", U"\U000000A6"},   {"bull;", U"\U00002022"},
    {"cap;", U"\U00002229"},      {"ccedil", U"\U000000E7"},
    {"ccedil;", U"\U000000E7"},   {"cedil", U"\U000000B8"},
    {"cedil;", U"\U000000B8"},    {"cent", U"\U000000A2"},
    {"cent;", U"\U000000A2"},     {"chi;", U"\U000003C7"},
    {"circ;", U"\U000002C6"},     {"clubs;", U"\U00002663"},
    {"cong;", U"\U00002245"},     {"copy", U"\U000000A9"},
    {"copy;", U"\U000000A9"},     {"crarr;", U"\U000021B5"},
    {"cup;", U"\U0000222A"},      {"curren", U"\U000000A4"},
    {"curren;", U"\U000000A4"},   {"dArr;", U"\U000021D3"},
    {"dagger;", U"\U00002020"},   {"darr;", U"\U00002193"},
    {"deg", U"\U000000B0"},       {"deg;", U"\U000000B0"},
    {"delta;", U"\U000003B4"},    {"diams;", U"\U00002666"},
    {"divide", U"\U000000F7"},    {"divide;", U"\U000000F7"},
    {"eacute", U"\U000000E9"},    {"eacute;", U"\U000000E9"},
    {"ecirc", U"\U000000EA"},     {"ecirc;", U"\U000000EA"},
    {"egrave", U"\U000000E8"},    {"egrave;", U"\U000000E8"},
    {"empty;", U"\U00002205"},    {"emsp;", U"\U00002003"},
    {"ensp;", U"\U00002002"},     {"epsilon;", U"\U000003B5"},
    {"equiv;", U"\U00002261"},    {"eta;", U"\U000003B7"},
    {"eth", U"\U000000F0"},       {"eth;", U"\U000000F0"},
    {"euml", U"\U000000EB"},      {"euml;", U"\U000000EB"},
    {"euro;", U"\U000020AC"},     {"exist;", U"\U00002203"},
    {"fnof;", U"\U00000192"},     {"forall;", U"\U00002200"},
    {"frac12", U"\U000000BD"},    {"frac12;", U"\U000000BD"},
    {"frac14", U"\U000000BC"},    {"frac14;", U"\U000000BC"},
    {"frac34", U"\U000000BE"},    {"frac34;", U"\U000000BE"},
    {"frasl;", U"\U00002044"},    {"gamma;", U"\U000003B3"},
    {"ge;", U"\U00002265"},       {"gt", U"\U0000003E"},
    {"gt;", U"\U0000003E"},       {"hArr;", U"\U000021D4"},
    {"harr;", U"\U00002194"},     {"hearts;", U"\U00002665"},
    {"hellip;", U"\U00002026"},   {"iacute", U"\U000000ED"},
    {"iacute;", U"\U000000ED"},   {"icirc", U"\U000000EE"},
    {"icirc;", U"\U000000EE"},    {"iexcl", U"\U000000A1"},
    {"iexcl;", U"\U000000A1"},    {"igrave", U"\U000000EC"},
    {"igrave;", U"\U000000EC"},   {"image;", U"\U00002111"},
    {"infin;", U"\U0000221E"},    {"int;", U"\U0000222B"},
    {"iota;", U"\U000003B9"},     {"iquest", U"\U000000BF"},
    {"iquest;", U"\U000000BF"},   {"isin;", U"\U00002208"},
    {"iuml", U"\U000000EF"},      {"iuml;", U"\U000000EF"},
    {"kappa;", U"\U000003BA"},    {"lArr;", U"\U000021D0"},
    {"lambda;", U"\U000003BB"},   {"lang;", U"\U000027E8"},
    {"laquo", U"\U000000AB"},     {"laquo;", U"\U000000AB"},
    {"larr;", U"\U00002190"},     {"lceil;", U"\U00002308"},
    {"ldquo;", U"\U0000201C"},    {"le;", U"\U00002264"},
    {"lfloor;", U"\U0000230A"},   {"lowast;", U"\U00002217"},
    {"loz;", U"\U000025CA"},      {"lrm;", U"\U0000200E"},
    {"lsaquo;", U"\U00002039"},   {"lsquo;", U"\U00002018"},
    {"lt", U"\U0000003C"},        {"lt;", U"\U0000003C"},
    {"macr", U"\U000000AF"},      {"macr;", U"\U000000AF"},
    {"mdash;", U"\U00002014"},    {"micro", U"\U000000B5"},
    {"micro;", U"\U000000B5"},    {"middot", U"\U000000B7"},
    {"middot;", U"\U000000B7"},   {"minus;", U"\U00002212"},
    {"mu;", U"\U000003BC"},       {"nabla;", U"\U00002207"},
    {"nbsp", U"\U000000A0"},      {"nbsp;", U"\U000000A0"},
    {"ndash;", U"\U00002013"},    {"ne;", U"\U00002260"},
    {"ni;", U"\U0000220B"},       {"not", U"\U000000AC"},
    {"not;", U"\U000000AC"},      {"notin;", U"\U00002209"},
    {"nsub;", U"\U00002284"},     {"ntilde", U"\U000000F1"},
    {"ntilde;", U"\U000000F1"},   {"nu;", U"\U000003BD"},
    {"oacute", U"\U000000F3"},    {"oacute;", U"\U000000F3"},
    {"ocirc", U"\U000000F4"},     {"ocirc;", U"\U000000F4"},
    {"oelig;", U"\U00000153"},    {"ograve", U"\U000000F2"},
    {"ograve;", U"\U000000F2"},   {"oline;", U"\U0000203E"},
    {"omega;", U"\U000003C9"},    {"omicron;", U"\U000003BF"},
    {"oplus;", U"\U00002295"},    {"or;", U"\U00002228"},
    {"ordf", U"\U000000AA"},      {"ordf;", U"\U000000AA"},
    {"ordm", U"\U000000BA"},      {"ordm;", U"\U000000BA"},
    {"oslash", U"\U000000F8"},    {"oslash;", U"\U000000F8"},
    {"otilde", U"\U000000F5"},    {"otilde;", U"\U000000F5"},
    {"otimes;", U"\U00002297"},   {"ouml", U"\U000000F6"},
    {"ouml;", U"\U000000F6"},     {"para", U"\U000000B6"},
    {"para;", U"\U000000B6"},     {"part;", U"\U00002202"},
    {"permil;", U"\U00002030"},   {"perp;", U"\U000022A5"},
    {"phi;", U"\U000003C6"},      {"pi;", U"\U000003C0"},
    {"piv;", U"\U000003D6"},      {"plusmn", U"\U000000B1"},
    {"plusmn;", U"\U000000B1"},   {"pound", U"\U000000A3"},
    {"pound;", U"\U000000A3"},    {"prime;", U"\U00002032"},
    {"prod;", U"\U0000220F"},     {"prop;", U"\U0000221D"},
    {"psi;", U"\U000003C8"},      {"quot", U"\U00000022"},
    {"quot;", U"\U00000022"},     {"rArr;", U"\U000021D2"},
    {"radic;", U"\U0000221A"},    {"rang;", U"\U000027E9"},
    {"raquo", U"\U000000BB"},     {"raquo;", U"\U000000BB"},
    {"rarr;", U"\U00002192"},     {"rceil;", U"\U00002309"},
    {"rdquo;", U"\U0000201D"},    {"real;", U"\U0000211C"},
    {"reg", U"\U000000AE"},       {"reg;", U"\U000000AE"},
    {"rfloor;", U"\U0000230B"},   {"rho;", U"\U000003C1"},
    {"rlm;", U"\U0000200F"},      {"rsaquo;", U"\U0000203A"},
    {"rsquo;", U"\U00002019"},    {"sbquo;", U"\U0000201A"},
    {"scaron;", U"\U00000161"},   {"sdot;", U"\U000022C5"},
    {"sect", U"\U000000A7"},      {"sect;", U"\U000000A7"},
    {"shy", U"\U000000AD"},       {"shy;", U"\U000000AD"},
    {"sigma;", U"\U000003C3"},    {"sigmaf;", U"\U000003C2"},
    {"sim;", U"\U0000223C"},      {"spades;", U"\U00002660"},
    {"sub;", U"\U00002282"},      {"sube;", U"\U00002286"},
    {"sum;", U"\U00002211"},      {"sup1", U"\U000000B9"},
    {"sup1;", U"\U000000B9"},     {"sup2", U"\U000000B2"},
    {"sup2;", U"\U000000B2"},     {"sup3", U"\U000000B3"},
    {"sup3;", U"\U000000B3"},     {"sup;", U"\U00002283"},
    {"supe;", U"\U00002287"},     {"szlig", U"\U000000DF"},
    {"szlig;", U"\U000000DF"},    {"tau;", U"\U000003C4"},
    {"there4;", U"\U00002234"},   {"theta;", U"\U000003B8"},
    {"thetasym;", U"\U000003D1"}, {"thinsp;", U"\U00002009"},
    {"thorn", U"\U000000FE"},     {"thorn;", U"\U000000FE"},
    {"tilde;", U"\U000002DC"},    {"times", U"\U000000D7"},
    {"times;", U"\U000000D7"},    {"trade;", U"\U00002122"},
    {"uArr;", U"\U000021D1"},     {"uacute", U"\U000000FA"},
    {"uacute;", U"\U000000FA"},   {"uarr;", U"\U00002191"},
    {"ucirc", U"\U000000FB"},     {"ucirc;", U"\U000000FB"},
    {"ugrave", U"\U000000F9"},    {"ugrave;", U"\U000000F9"},
    {"uml", U"\U000000A8"},       {"uml;", U"\U000000A8"},
    {"upsih;", U"\U000003D2"},    {"upsilon;", U"\U000003C5"},
    {"uuml", U"\U000000FC"},      {"uuml;", U"\U000000FC"},
    {"weierp;", U"\U00002118"},   {"xi;", U"\U000003BE"},
    {"yacute", U"\U000000FD"},    {"yacute;", U"\U000000FD"},
    {"yen", U"\U000000A5"},       {"yen;", U"\U000000A5"},
    {"yuml", U"\U000000FF"},      {"yuml;", U"\U000000FF"},
    {"zeta;", U"\U000003B6"},     {"zwj;", U"\U0000200D"},
    {"zwnj;", U"\U0000200C"},
};

// Entities that the ftfy-style fixer decodes: the same names, always with
// a semicolon, plus upper-case spellings of lower-case names (&EACUTE;)
// mapped to the upper-cased character. Sorted by name.
constexpr NamedEntity kFixerEntities[] = {
    {"AACUTE;", U"\U000000C1"},   {"ACIRC;", U"\U000000C2"},
    {"ACUTE;", U"\U000000B4"},    {"AELIG;", U"\U000000C6"},
    {"AElig;", U"\U000000C6"},    {"AGRAVE;", U"\U000000C0"},
    {"ALEFSYM;", U"\U00002135"},  {"ALPHA;", U"\U00000391"},
    {"AMP;", U"\U00000026"},      {"AND;", U"\U00002227"},
    {"ANG;", U"\U00002220"},      {"APOS;", U"\U00000027"},
    {"ARING;", U"\U000000C5"},    {"ASYMP;", U"\U00002248"},
    {"ATILDE;", U"\U000000C3"},   {"AUML;", U"\U000000C4"},
    {"Aacute;", U"\U000000C1"},   {"Acirc;", U"\U000000C2"},
    {"Agrave;", U"\U000000C0"},   {"Alpha;", U"\U00000391"},
    {"Aring;", U"\U000000C5"},    {"Atilde;", U"\U000000C3"},
    {"Auml;", U"\U000000C4"},     {"BDQUO;", U"\U0000201E"},
    {"BETA;", U"\U00000392"},     {"BRVBAR;", U"\U000000A6"},
    {"BULL;", U"\U00002022"},     {"Beta;", U"\U00000392"},
    {"CAP;", U"\U00002229"},      {"CCEDIL;", U"\U000000C7"},
    {"CEDIL;", U"\U000000B8"},    {"CENT;", U"\U000000A2"},
    {"CHI;", U"\U000003A7"},      {"CIRC;", U"\U000002C6"},
    {"CLUBS;", U"\U00002663"},    {"CONG;", U"\U00002245"},
    {"COPY;", U"\U000000A9"},     {"CRARR;", U"\U000021B5"},
    {"CUP;", U"\U0000222A"},      {"CURREN;", U"\U000000A4"},
    {"Ccedil;", U"\U000000C7"},   {"Chi;", U"\U000003A7"},
    {"DAGGER;", U"\U00002020"},   {"DARR;", U"\U00002193"},
    {"DEG;", U"\U000000B0"},      {"DELTA;", U"\U00000394"},
    {"DIAMS;", U"\U00002666"},    {"DIVIDE;", U"\U000000F7"},
    {"Dagger;", U"\U00002021"},   {"Delta;", U"\U00000394"},
    {"EACUTE;", U"\U000000C9"},   {"ECIRC;", U"\U000000CA"},
    {"EGRAVE;", U"\U000000C8"},   {"EMPTY;", U"\U00002205"},
    {"EMSP;", U"\U00002003"},     {"ENSP;", U"\U00002002"},
    {"EPSILON;", U"\U00000395"},  {"EQUIV;", U"\U00002261"},
    {"ETA;", U"\U00000397"},      {"ETH;", U"\U000000D0"},
    {"EUML;", U"\U000000CB"},     {"EURO;", U"\U000020AC"},
    {"EXIST;", U"\U00002203"},    {"Eacute;", U"\U000000C9"},
    {"Ecirc;", U"\U000000CA"},    {"Egrave;", U"\U000000C8"},
    {"Epsilon;", U"\U00000395"},  {"Eta;", U"\U00000397"},
    {"Euml;", U"\U000000CB"},     {"FNOF;", U"\U00000191"},
    {"FORALL;", U"\U00002200"},   {"FRAC12;", U"\U000000BD"},
    {"FRAC14;", U"\U000000BC"},   {"FRAC34;", U"\U000000BE"},
    {"FRASL;", U"\U00002044"},    {"GAMMA;", U"\U00000393"},
    {"GE;", U"\U00002265"},       {"GT;", U"\U0000003E"},
    {"Gamma;", U"\U00000393"},    {"HARR;", U"\U00002194"},
    {"HEARTS;", U"\U00002665"},   {"HELLIP;", U"\U00002026"},
    {"IACUTE;", U"\U000000CD"},   {"ICIRC;", U"\U000000CE"},
    {"IEXCL;", U"\U000000A1"},    {"IGRAVE;", U"\U000000CC"},
    {"IMAGE;", U"\U00002111"},    {"INFIN;", U"\U0000221E"},
    {"INT;", U"\U0000222B"},      {"IOTA;", U"\U00000399"},
    {"IQUEST;", U"\U000000BF"},   {"ISIN;", U"\U00002208"},
    {"IUML;", U"\U000000CF"},     {"Iacute;", U"\U000000CD"},
    {"Icirc;", U"\U000000CE"},    {"Igrave;", U"\U000000CC"},
    {"Iota;", U"\U00000399"},     {"Iuml;", U"\U000000CF"},
    {"KAPPA;", U"\U0000039A"},    {"Kappa;", U"\U0000039A"},
    {"LAMBDA;", U"\U0000039B"},   {"LANG;", U"\U000027E8"},
    {"LAQUO;", U"\U000000AB"},    {"LARR;", U"\U00002190"},
    {"LCEIL;", U"\U00002308"},    {"LDQUO;", U"\U0000201C"},
    {"LE;", U"\U00002264"},       {"LFLOOR;", U"\U0000230A"},
    {"LOWAST;", U"\U00002217"},   {"LOZ;", U"\U000025CA"},
    {"LRM;", U"\U0000200E"},      {"LSAQUO;", U"\U00002039"},
    {"LSQUO;", U"\U00002018"},    {"LT;", U"\U0000003C"},
    {"Lambda;", U"\U0000039B"},   {"MACR;", U"\U000000AF"},
    {"MDASH;", U"\U00002014"},    {"MICRO;", U"\U0000039C"},
    {"MIDDOT;", U"\U000000B7"},   {"MINUS;", U"\U00002212"},
    {"MU;", U"\U0000039C"},       {"Mu;", U"\U0000039C"},
    {"NABLA;", U"\U00002207"},    {"NBSP;", U"\U000000A0"},
    {"NDASH;", U"\U00002013"},    {"NE;", U"\U00002260"},
    {"NI;", U"\U0000220B"},       {"NOT;", U"\U000000AC"},
    {"NOTIN;", U"\U00002209"},    {"NSUB;", U"\U00002284"},
    {"NTILDE;", U"\U000000D1"},   {"NU;", U"\U0000039D"},
    {"Ntilde;", U"\U000000D1"},   {"Nu;", U"\U0000039D"},
    {"OACUTE;", U"\U000000D3"},   {"OCIRC;", U"\U000000D4"},
    {"OELIG;", U"\U00000152"},    {"OElig;", U"\U00000152"},
    {"OGRAVE;", U"\U000000D2"},   {"OLINE;", U"\U0000203E"},
    {"OMEGA;", U"\U000003A9"},    {"OMICRON;", U"\U0000039F"},
    {"OPLUS;", U"\U00002295"},    {"OR;", U"\U00002228"},
    {"ORDF;", U"\U000000AA"},     {"ORDM;", U"\U000000BA"},
    {"OSLASH;", U"\U000000D8"},   {"OTILDE;", U"\U000000D5"},
    {"OTIMES;", U"\U00002297"},   {"OUML;", U"\U000000D6"},
    {"Oacute;", U"\U000000D3"},   {"Ocirc;", U"\U000000D4"},
    {"Ograve;", U"\U000000D2"},   {"Omega;", U"\U000003A9"},
    {"Omicron;", U"\U0000039F"},  {"Oslash;", U"\U000000D8"},
    {"Otilde;", U"\U000000D5"},   {"Ouml;", U"\U000000D6"},
    {"PARA;", U"\U000000B6"},     {"PART;", U"\U00002202"},
    {"PERMIL;", U"\U00002030"},   {"PERP;", U"\U000022A5"},
    {"PHI;", U"\U000003A6"},      {"PI;", U"\U000003A0"},
    {"PIV;", U"\U000003A0"},      {"PLUSMN;", U"\U000000B1"},
    {"POUND;", U"\U000000A3"},    {"PRIME;", U"\U00002032"},
    {"PROD;", U"\U0000220F"},     {"PROP;", U"\U0000221D"},
    {"PSI;", U"\U000003A8"},      {"Phi;", U"\U000003A6"},
    {"Pi;", U"\U000003A0"},       {"Prime;", U"\U00002033"},
    {"Psi;", U"\U000003A8"},      {"QUOT;", U"\U00000022"},
    {"RADIC;", U"\U0000221A"},    {"RANG;", U"\U000027E9"},
    {"RAQUO;", U"\U000000BB"},    {"RARR;", U"\U00002192"},
    {"RCEIL;", U"\U00002309"},    {"RDQUO;", U"\U0000201D"},
    {"REAL;", U"\U0000211C"},     {"REG;", U"\U000000AE"},
    {"RFLOOR;", U"\U0000230B"},   {"RHO;", U"\U000003A1"},
    {"RLM;", U"\U0000200F"},      {"RSAQUO;", U"\U0000203A"},
    {"RSQUO;", U"\U00002019"},    {"Rho;", U"\U000003A1"},
    {"SBQUO;", U"\U0000201A"},    {"SCARON;", U"\U00000160"},
    {"SDOT;", U"\U000022C5"},     {"SECT;", U"\U000000A7"},
    {"SHY;", U"\U000000AD"},      {"SIGMA;", U"\U000003A3"},
    {"SIGMAF;", U"\U000003A3"},   {"SIM;", U"\U0000223C"},
    {"SPADES;", U"\U00002660"},   {"SUB;", U"\U00002282"},
    {"SUBE;", U"\U00002286"},     {"SUM;", U"\U00002211"},
    {"SUP1;", U"\U000000B9"},     {"SUP2;", U"\U000000B2"},
    {"SUP3;", U"\U000000B3"},     {"SUP;", U"\U00002283"},
    {"SUPE;", U"\U00002287"},     {"SZLIG;", U"\U00000053\U00000053"},
    {"Scaron;", U"\U00000160"},   {"Sigma;", U"\U000003A3"},
    {"TAU;", U"\U000003A4"},      {"THERE4;", U"\U00002234"},
    {"THETA;", U"\U00000398"},    {"THETASYM;", U"\U00000398"},
    {"THINSP;", U"\U00002009"},   {"THORN;", U"\U000000DE"},
    {"TILDE;", U"\U000002DC"},    {"TIMES;", U"\U000000D7"},
    {"Tau;", U"\U000003A4"},      {"Theta;", U"\U00000398"},
    {"UACUTE;", U"\U000000DA"},   {"UARR;", U"\U00002191"},
    {"UCIRC;", U"\U000000DB"},    {"UGRAVE;", U"\U000000D9"},
    {"UML;", U"\U000000A8"},      {"UPSIH;", U"\U000003D2"},
    {"UPSILON;", U"\U000003A5"},  {"UUML;", U"\U000000DC"},
    {"Uacute;", U"\U000000DA"},   {"Ucirc;", U"\U000000DB"},
    {"Ugrave;", U"\U000000D9"},   {"Upsilon;", U"\U000003A5"},
    {"Uuml;", U"\U000000DC"},     {"WEIERP;", U"\U00002118"},
    {"XI;", U"\U0000039E"},       {"Xi;", U"\U0000039E"},
    {"YACUTE;", U"\U000000DD"},   {"YEN;", U"\U000000A5"},
    {"YUML;", U"\U00000178"},     {"Yacute;", U"\U000000DD"},
    {"Yuml;", U"\U00000178"},     {"ZETA;", U"\U00000396"},
    {"ZWJ;", U"\U0000200D"},      {"ZWNJ;", U"\U0000200C"},
    {"Zeta;", U"\U00000396"},     {"aacute;", U"\U000000E1"},
    {"acirc;", U"\U000000E2"},    {"acute;", U"\U000000B4"},
    {"aelig;", U"\U000000E6"},    {"agrave;", U"\U000000E0"},
    {"alefsym;", U"\U00002135"},  {"alpha;", U"\U000003B1"},
    {"amp;", U"\U00000026"},      {"and;", U"\U00002227"},
    {"ang;", U"\U00002220"},      {"apos;", U"\U00000027"},
    {"aring;", U"\U000000E5"},    {"asymp;", U"\U00002248"},
    {"atilde;", U"\U000000E3"},   {"auml;", U"\U000000E4"},
    {"bdquo;", U"\U0000201E"},    {"beta;", U"\U000003B2"},
    {"brvbar;", U"\U000000A6"},   {"bull;", U"\U00002022"},
    {"cap;", U"\U00002229"},      {"ccedil;", U"\U000000E7"},
    {"cedil;", U"\U000000B8"},    {"cent;", U"\U000000A2"},
    {"chi;", U"\U000003C7"},      {"circ;", U"\U000002C6"},
    {"clubs;", U"\U00002663"},    {"cong;", U"\U00002245"},
    {"copy;", U"\U000000A9"},     {"crarr;", U"\U000021B5"},
    {"cup;", U"\U0000222A"},      {"curren;", U"\U000000A4"},
    {"dArr;", U"\U000021D3"},     {"dagger;", U"\U00002020"},
    {"darr;", U"\U00002193"},     {"deg;", U"\U000000B0"},
    {"delta;", U"\U000003B4"},    {"diams;", U"\U00002666"},
    {"divide;", U"\U000000F7"},   {"eacute;", U"\U000000E9"},
    {"ecirc;", U"\U000000EA"},    {"egrave;", U"\U000000E8"},
    {"empty;", U"\U00002205"},    {"emsp;", U"\U00002003"},
    {"ensp;", U"\U00002002"},     {"epsilon;", U"\U000003B5"},
    {"equiv;", U"\U00002261"},    {"eta;", U"\U000003B7"},
    {"eth;", U"\U000000F0"},      {"euml;", U"\U000000EB"},
    {"euro;", U"\U000020AC"},     {"exist;", U"\U00002203"},
    {"fnof;", U"\U00000192"},     {"forall;", U"\U00002200"},
    {"frac12;", U"\U000000BD"},   {"frac14;", U"\U000000BC"},
    {"frac34;", U"\U000000BE"},   {"frasl;", U"\U00002044"},
    {"gamma;", U"\U000003B3"},    {"ge;", U"\U00002265"},
    {"gt;", U"\U0000003E"},       {"hArr;", U"\U000021D4"},
    {"harr;", U"\U00002194"},     {"hearts;", U"\U00002665"},
    {"hellip;", U"\U00002026"},   {"iacute;", U"\U000000ED"},
    {"icirc;", U"\U000000EE"},    {"iexcl;", U"\U000000A1"},
    {"igrave;", U"\U000000EC"},   {"image;", U"\U00002111"},
    {"infin;", U"\U0000221E"},    {"int;", U"\U0000222B"},
    {"iota;", U"\U000003B9"},     {"iquest;", U"\U000000BF"},
    {"isin;", U"\U00002208"},     {"iuml;", U"\U000000EF"},
    {"kappa;", U"\U000003BA"},    {"lArr;", U"\U000021D0"},
    {"lambda;", U"\U000003BB"},   {"lang;", U"\U000027E8"},
    {"laquo;", U"\U000000AB"},    {"larr;", U"\U00002190"},
    {"lceil;", U"\U00002308"},    {"ldquo;", U"\U0000201C"},
    {"le;", U"\U00002264"},       {"lfloor;", U"\U0000230A"},
    {"lowast;", U"\U00002217"},   {"loz;", U"\U000025CA"},
    {"lrm;", U"\U0000200E"},      {"lsaquo;", U"\U00002039"},
    {"lsquo;", U"\U00002018"},    {"lt;", U"\U0000003C"},
    {"macr;", U"\U000000AF"},     {"mdash;", U"\U00002014"},
    {"micro;", U"\U000000B5"},    {"middot;", U"\U000000B7"},
    {"minus;", U"\U00002212"},    {"mu;", U"\U000003BC"},
    {"nabla;", U"\U00002207"},    {"nbsp;", U"\U000000A0"},
    {"ndash;", U"\U00002013"},    {"ne;", U"\U00002260"},
    {"ni;", U"\U0000220B"},       {"not;", U"\U000000AC"},
    {"notin;", U"\U00002209"},    {"nsub;", U"\U00002284"},
    {"ntilde;", U"\U000000F1"},   {"nu;", U"\U000003BD"},
    {"oacute;", U"\U000000F3"},   {"ocirc;", U"\U000000F4"},
    {"oelig;", U"\U00000153"},    {"ograve;", U"\U000000F2"},
    {"oline;", U"\U0000203E"},    {"omega;", U"\U000003C9"},
    {"omicron;", U"\U000003BF"},  {"oplus;", U"\U00002295"},
    {"or;", U"\U00002228"},       {"ordf;", U"\U000000AA"},
    {"ordm;", U"\U000000BA"},     {"oslash;", U"\U000000F8"},
    {"otilde;", U"\U000000F5"},   {"otimes;", U"\U00002297"},
    {"ouml;", U"\U000000F6"},     {"para;", U"\U000000B6"},
    {"part;", U"\U00002202"},     {"permil;", U"\U00002030"},
    {"perp;", U"\U000022A5"},     {"phi;", U"\U000003C6"},
    {"pi;", U"\U000003C0"},       {"piv;", U"\U000003D6"},
    {"plusmn;", U"\U000000B1"},   {"pound;", U"\U000000A3"},
    {"prime;", U"\U00002032"},    {"prod;", U"\U0000220F"},
    {"prop;", U"\U0000221D"},     {"psi;", U"\U000003C8"},
    {"quot;", U"\U00000022"},     {"rArr;", U"\U000021D2"},
    {"radic;", U"\U0000221A"},    {"rang;", U"\U000027E9"},
    {"raquo;", U"\U000000BB"},    {"rarr;", U"\U00002192"},
    {"rceil;", U"\U00002309"},    {"rdquo;", U"\U0000201D"},
    {"real;", U"\U0000211C"},     {"reg;", U"\U000000AE"},
    {"rfloor;", U"\U0000230B"},   {"rho;", U"\U000003C1"},
    {"rlm;", U"\U0000200F"},      {"rsaquo;", U"\U0000203A"},
    {"rsquo;", U"\U00002019"},    {"sbquo;", U"\U0000201A"},
    {"scaron;", U"\U00000161"},   {"sdot;", U"\U000022C5"},
    {"sect;", U"\U000000A7"},     {"shy;", U"\U000000AD"},
    {"sigma;", U"\U000003C3"},    {"sigmaf;", U"\U000003C2"},
    {"sim;", U"\U0000223C"},      {"spades;", U"\U00002660"},
    {"sub;", U"\U00002282"},      {"sube;", U"\U00002286"},
    {"sum;", U"\U00002211"},      {"sup1;", U"\U000000B9"},
    {"sup2;", U"\U000000B2"},     {"sup3;", U"\U000000B3"},
    {"sup;", U"\U00002283"},      {"supe;", U"\U00002287"},
    {"szlig;", U"\U000000DF"},    {"tau;", U"\U000003C4"},
    {"there4;", U"\U00002234"},   {"theta;", U"\U000003B8"},
    {"thetasym;", U"\U000003D1"}, {"thinsp;", U"\U00002009"},
    {"thorn;", U"\U000000FE"},    {"tilde;", U"\U000002DC"},
    {"times;", U"\U000000D7"},    {"trade;", U"\U00002122"},
    {"uArr;", U"\U000021D1"},     {"uacute;", U"\U000000FA"},
    {"uarr;", U"\U00002191"},     {"ucirc;", U"\U000000FB"},
    {"ugrave;", U"\U000000F9"},   {"uml;", U"\U000000A8"},
    {"upsih;", U"\U000003D2"},    {"upsilon;", U"\U000003C5"},
    {"uuml;", U"\U000000FC"},     {"weierp;", U"\U00002118"},
    {"xi;", U"\U000003BE"},       {"yacute;", U"\U000000FD"},
    {"yen;", U"\U000000A5"},      {"yuml;", U"\U000000FF"},
    {"zeta;", U"\U000003B6"},     {"zwj;", U"\U0000200D"},
    {"zwnj;", U"\U0000200C"},
};

const char32_t* LookupEntity(const NamedEntity* begin, const NamedEntity* end,
                             std::string_view name) {
  const NamedEntity* it = std::lower_bound(
      begin, end, name, [](const NamedEntity& e, std::string_view n) {
        return std::string_view(e.name) < n;
      });
  if (it != end && std::string_view(it->name) == name) return it->value;
  return nullptr;
}

// Returns the ASCII string for code points [begin, end), or false when one of
// them is not ASCII (entity names are ASCII).
bool AsciiName(const U32& text, size_t begin, size_t end, std::string* out) {
  out->clear();
  for (size_t i = begin; i < end; ++i) {
    if (text[i] >= 0x80) return false;
    out->push_back(static_cast<char>(text[i]));
  }
  return true;
}

// ---------------------------------------------------------------------------
// Single-byte code pages.

// Windows-1252 for bytes 0x80-0x9F. The five unassigned bytes keep their C1
// code point, as in ftfy's "sloppy" codec and Python's html module.
constexpr char32_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

bool IsCp1252Unassigned(int byte) {
  return byte == 0x81 || byte == 0x8D || byte == 0x8F || byte == 0x90 ||
         byte == 0x9D;
}

// The byte that `c` comes from in Windows-1252 (the 0x80-0x9F block).
int Cp1252HighByte(char32_t c) {
  for (int i = 0; i < 32; ++i) {
    if (kCp1252High[i] == c) return 0x80 + i;
  }
  return -1;
}

// The byte `c` decodes from in Latin-1 or (sloppy) Windows-1252; -1 if none.
int SingleByteOf(char32_t c) {
  if (c < 0x100) return static_cast<int>(c);
  return Cp1252HighByte(c);
}

enum class Charmap { kLatin1, kSloppyCp1252 };

bool EncodeCharmap(const U32& text, Charmap charmap, std::string* bytes) {
  bytes->clear();
  bytes->reserve(text.size());
  for (char32_t c : text) {
    int b;
    if (charmap == Charmap::kLatin1) {
      b = c < 0x100 ? static_cast<int>(c) : -1;
    } else if (c < 0x80 || (c >= 0xA0 && c < 0x100)) {
      b = static_cast<int>(c);
    } else {
      b = Cp1252HighByte(c);
    }
    if (b < 0) return false;
    bytes->push_back(static_cast<char>(b));
  }
  return true;
}

// ---------------------------------------------------------------------------
// UTF-8.

// Decodes one code point at `*pos`. Returns -1 for an invalid sequence, after
// advancing `*pos` past its maximal subpart (at least one byte).
int32_t NextCodePoint(absl::string_view s, size_t* pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  size_t i = *pos;
  unsigned b0 = p[i++];
  if (b0 < 0x80) {
    *pos = i;
    return static_cast<int32_t>(b0);
  }
  int extra;
  unsigned lo = 0x80, hi = 0xBF;
  int32_t cp;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    extra = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    extra = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    extra = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    *pos = i;
    return -1;
  }
  for (int k = 0; k < extra; ++k) {
    if (i >= n || p[i] < lo || p[i] > hi) {
      *pos = i;
      return -1;
    }
    cp = (cp << 6) | (p[i++] & 0x3F);
    lo = 0x80;
    hi = 0xBF;
  }
  *pos = i;
  return cp;
}

bool DecodeUtf8Strict(absl::string_view s, U32* out) {
  out->clear();
  size_t pos = 0;
  while (pos < s.size()) {
    int32_t c = NextCodePoint(s, &pos);
    if (c < 0) return false;
    out->push_back(static_cast<char32_t>(c));
  }
  return true;
}

bool IsAscii(const U32& text) {
  for (char32_t c : text) {
    if (c >= 0x80) return false;
  }
  return true;
}

bool IsAsciiAlnum(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z');
}

bool IsAsciiDigit(char32_t c) { return c >= '0' && c <= '9'; }

bool IsAsciiHexDigit(char32_t c) {
  return IsAsciiDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexValue(char32_t c) {
  if (c <= '9') return static_cast<int>(c - '0');
  if (c >= 'a') return static_cast<int>(c - 'a' + 10);
  return static_cast<int>(c - 'A' + 10);
}

// ---------------------------------------------------------------------------
// ICU helpers.

icu::UnicodeString ToIcu(const U32& text) {
  return icu::UnicodeString::fromUTF32(
      reinterpret_cast<const UChar32*>(text.data()),
      static_cast<int32_t>(text.size()));
}

U32 FromIcu(const icu::UnicodeString& s) {
  U32 out;
  out.reserve(static_cast<size_t>(s.length()));
  for (int32_t i = 0; i < s.length();) {
    UChar32 c = s.char32At(i);
    out.push_back(static_cast<char32_t>(c));
    i += U16_LENGTH(c);
  }
  return out;
}

const icu::Normalizer2* NfcInstance() {
  static const icu::Normalizer2* nfc = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return nfc;
}

const icu::Normalizer2* NfkcInstance() {
  static const icu::Normalizer2* nfkc = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFKCInstance(status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return nfkc;
}

U32 Nfc(const U32& text) {
  // Code points below U+0300 are all NFC-stable and never compose with a
  // preceding character.
  bool simple = true;
  for (char32_t c : text) {
    if (c >= 0x300) {
      simple = false;
      break;
    }
  }
  const icu::Normalizer2* nfc = NfcInstance();
  if (simple || nfc == nullptr) return text;
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString src = ToIcu(text);
  if (nfc->quickCheck(src, status) == UNORM_YES && U_SUCCESS(status)) {
    return text;
  }
  status = U_ZERO_ERROR;
  icu::UnicodeString dst = nfc->normalize(src, status);
  if (U_FAILURE(status)) return text;
  return FromIcu(dst);
}

// Python's str.isspace() / the regex module's \s on the text at hand.
bool IsSpace(UChar32 c) {
  return u_isUWhiteSpace(c) || (c >= 0x1C && c <= 0x1F);
}

bool IsLetter(UChar32 c) { return (U_GET_GC_MASK(c) & U_GC_L_MASK) != 0; }
bool IsNumber(UChar32 c) { return (U_GET_GC_MASK(c) & U_GC_N_MASK) != 0; }

// ---------------------------------------------------------------------------
// html.unescape.

constexpr char32_t kNoChar = 0;  // marks a dropped character reference

// Python's html._replace_charref for a numeric reference.
char32_t NumericCharRef(uint32_t num, bool overflow) {
  if (overflow) return kReplacementChar;
  if (num == 0) return kReplacementChar;
  if (num == 0x0D) return U'\r';
  if (num >= 0x80 && num <= 0x9F) return kCp1252High[num - 0x80];
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
    return kReplacementChar;
  }
  if ((num >= 0x1 && num <= 0x8) || num == 0xB || (num >= 0xE && num <= 0x1F) ||
      num == 0x7F || (num >= 0xFDD0 && num <= 0xFDEF) ||
      (num & 0xFFFE) == 0xFFFE) {
    return kNoChar;
  }
  return static_cast<char32_t>(num);
}

bool IsNameStop(char32_t c) {
  return c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' ||
         c == '&' || c == '#' || c == ';';
}

U32 HtmlUnescapeU32(const U32& text) {
  if (text.find(U'&') == U32::npos) return text;
  constexpr const NamedEntity* kBegin = std::begin(kHtmlEntities);
  constexpr const NamedEntity* kEnd = std::end(kHtmlEntities);
  U32 out;
  out.reserve(text.size());
  const size_t n = text.size();
  std::string name;
  size_t i = 0;
  while (i < n) {
    if (text[i] != U'&') {
      out.push_back(text[i++]);
      continue;
    }
    size_t j = i + 1;
    if (j < n && text[j] == U'#') {
      size_t k = j + 1;
      bool hex = false;
      if (k < n && IsAsciiDigit(text[k])) {
        hex = false;
      } else if (k + 1 < n && (text[k] == U'x' || text[k] == U'X') &&
                 IsAsciiHexDigit(text[k + 1])) {
        hex = true;
        ++k;
      } else {
        out.push_back(text[i++]);
        continue;
      }
      uint32_t num = 0;
      bool overflow = false;
      while (k < n &&
             (hex ? IsAsciiHexDigit(text[k]) : IsAsciiDigit(text[k]))) {
        uint32_t digit = hex ? HexValue(text[k]) : text[k] - U'0';
        if (!overflow) {
          uint64_t next = static_cast<uint64_t>(num) * (hex ? 16 : 10) + digit;
          if (next > 0x10FFFF) {
            overflow = true;
          } else {
            num = static_cast<uint32_t>(next);
          }
        }
        ++k;
      }
      if (k < n && text[k] == U';') ++k;
      char32_t c = NumericCharRef(num, overflow);
      if (c != kNoChar) out.push_back(c);
      i = k;
      continue;
    }
    size_t k = j;
    while (k < n && k - j < 32 && !IsNameStop(text[k])) ++k;
    if (k == j) {
      out.push_back(text[i++]);
      continue;
    }
    if (k < n && text[k] == U';') ++k;
    // The exact name, else its longest prefix of at least two characters
    // that is a name (only legacy names lack the ';').
    const size_t length = k - j;
    bool done = false;
    for (size_t x = length; x >= 1; --x) {
      if (x < length && x < 2) break;
      if (AsciiName(text, j, j + x, &name)) {
        if (const char32_t* value = LookupEntity(kBegin, kEnd, name)) {
          out += value;
          out.append(text, j + x, length - x);
          done = true;
          break;
        }
      }
    }
    if (!done) out.append(text, i, k - i);
    i = k;
  }
  return out;
}

// ---------------------------------------------------------------------------
// ftfy's fixers.

// ftfy.fixes.unescape_html: "&#?[0-9A-Za-z]{1,24};" references only, named
// ones from kFixerEntities, numeric ones only when html.unescape consumes the
// whole reference.
U32 FixerUnescapeHtml(const U32& text) {
  if (text.find(U'&') == U32::npos) return text;
  U32 out;
  out.reserve(text.size());
  const size_t n = text.size();
  std::string name;
  size_t i = 0;
  while (i < n) {
    if (text[i] != U'&') {
      out.push_back(text[i++]);
      continue;
    }
    size_t j = i + 1;
    const bool numeric = j < n && text[j] == U'#';
    if (numeric) ++j;
    size_t k = j;
    while (k < n && k - j <= 24 && IsAsciiAlnum(text[k])) ++k;
    const size_t run = k - j;
    if (run < 1 || run > 24 || k >= n || text[k] != U';') {
      out.push_back(text[i++]);
      continue;
    }
    const size_t end = k + 1;
    const U32 match = text.substr(i, end - i);
    if (numeric) {
      U32 decoded = HtmlUnescapeU32(match);
      out += decoded.find(U';') == U32::npos ? decoded : match;
    } else {
      AsciiName(text, j, end, &name);
      const char32_t* value = LookupEntity(std::begin(kFixerEntities),
                                           std::end(kFixerEntities), name);
      out += value != nullptr ? U32(value) : match;
    }
    i = end;
  }
  return out;
}

U32 FixC1Controls(const U32& text) {
  U32 out = text;
  for (char32_t& c : out) {
    if (c >= 0x80 && c <= 0x9F) c = kCp1252High[c - 0x80];
  }
  return out;
}

bool HasC1(const U32& text) {
  for (char32_t c : text) {
    if (c >= 0x80 && c <= 0x9F) return true;
  }
  return false;
}

// Windows-1252 spellings of continuation bytes that are common punctuation on
// their own (quotes, dashes, bullet, ellipsis): weak evidence of mojibake.
bool IsCommonPunctuation(char32_t c) {
  switch (c) {
    case 0x201A:
    case 0x201E:
    case 0x2026:
    case 0x2022:
    case 0x2013:
    case 0x2014:
    case 0x2018:
    case 0x2019:
    case 0x201C:
    case 0x201D:
      return true;
    default:
      return false;
  }
}

bool IsStrictContinuation(char32_t c) {
  int b = SingleByteOf(c);
  return b >= 0x80 && b <= 0xBF && !IsCommonPunctuation(c);
}

// Lead bytes of two-byte sequences that we accept as mojibake: Latin-1
// Supplement and Latin Extended-A (C2-C5), Greek (CE, CF) and Cyrillic
// (D0, D1). Others (e.g. "ß" or "×" before a symbol) occur in real text.
bool IsAcceptedTwoByteLead(int b) {
  return (b >= 0xC2 && b <= 0xC5) || b == 0xCE || b == 0xCF || b == 0xD0 ||
         b == 0xD1;
}

// If text[i...] spells a well-formed UTF-8 sequence in Latin-1/Windows-1252
// characters, returns its length in characters (else 0) and sets `*strict`
// when one of its continuation characters is strong evidence.
size_t MojibakeSequenceAt(const U32& text, size_t i, bool* strict) {
  *strict = false;
  int b0 = SingleByteOf(text[i]);
  size_t extra;
  int lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (!IsAcceptedTwoByteLead(b0)) return 0;
    extra = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    extra = 2;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    extra = 3;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + extra >= text.size()) return 0;
  bool any_strict = false;
  for (size_t k = 1; k <= extra; ++k) {
    int b = SingleByteOf(text[i + k]);
    if (b < lo || b > hi) return 0;
    lo = 0x80;
    hi = 0xBF;
    any_strict = any_strict || !IsCommonPunctuation(text[i + k]);
  }
  *strict = any_strict;
  return extra + 1;
}

// Whether the text contains mojibake that we know how to recognise.
bool IsBad(const U32& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    bool strict;
    if (MojibakeSequenceAt(text, i, &strict) > 0 && strict) return true;
  }
  return false;
}

U32 FixEncoding(U32 text);

// ftfy.fixes.decode_inconsistent_utf8: fixes runs of mojibake embedded in
// text that cannot be re-decoded as a whole.
U32 DecodeInconsistentUtf8(const U32& text) {
  U32 out;
  out.reserve(text.size());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    size_t len = 0;
    bool strict = false;
    if (i == 0 || !IsStrictContinuation(text[i - 1])) {
      size_t j = i;
      while (j < n) {
        bool s;
        size_t l = MojibakeSequenceAt(text, j, &s);
        if (l == 0) break;
        strict = strict || s;
        j += l;
      }
      len = j - i;
    }
    if (len == 0) {
      out.push_back(text[i++]);
      continue;
    }
    U32 run = text.substr(i, len);
    if (len < n && strict) {
      out += FixEncoding(std::move(run));
    } else {
      out += run;
    }
    i += len;
  }
  return out;
}

U32 FixEncodingOneStep(const U32& text) {
  if (text.empty() || IsAscii(text) || !IsBad(text)) return text;
  std::string bytes;
  U32 fixed;
  for (Charmap charmap : {Charmap::kLatin1, Charmap::kSloppyCp1252}) {
    if (EncodeCharmap(text, charmap, &bytes) &&
        DecodeUtf8Strict(bytes, &fixed)) {
      return fixed;
    }
  }
  fixed = DecodeInconsistentUtf8(text);
  if (fixed != text) return fixed;
  // Latin-1 text whose C1 controls were meant as Windows-1252.
  if (EncodeCharmap(text, Charmap::kLatin1, &bytes)) {
    bool ok = true;
    fixed.clear();
    for (char c : bytes) {
      int b = static_cast<unsigned char>(c);
      if (b >= 0x80 && b <= 0x9F) {
        if (IsCp1252Unassigned(b)) {
          ok = false;
          break;
        }
        fixed.push_back(kCp1252High[b - 0x80]);
      } else {
        fixed.push_back(static_cast<char32_t>(b));
      }
    }
    if (ok && fixed != text) return fixed;
  }
  if (HasC1(text)) return FixC1Controls(text);
  return text;
}

U32 FixEncoding(U32 text) {
  for (int iteration = 0; iteration < 32; ++iteration) {
    U32 next = FixEncodingOneStep(text);
    if (next == text) break;
    text = std::move(next);
  }
  return text;
}

U32 FixLatinLigatures(const U32& text) {
  U32 out;
  out.reserve(text.size());
  for (char32_t c : text) {
    switch (c) {
      case 0x0132:
        out += U"IJ";
        break;
      case 0x0133:
        out += U"ij";
        break;
      case 0x0149:
        out += U"\u02BCn";
        break;
      case 0x01F1:
        out += U"DZ";
        break;
      case 0x01F2:
        out += U"Dz";
        break;
      case 0x01F3:
        out += U"dz";
        break;
      case 0x01C4:
        out += U"D\u017D";
        break;
      case 0x01C5:
        out += U"D\u017E";
        break;
      case 0x01C6:
        out += U"d\u017E";
        break;
      case 0x01C7:
        out += U"LJ";
        break;
      case 0x01C8:
        out += U"Lj";
        break;
      case 0x01C9:
        out += U"lj";
        break;
      case 0x01CA:
        out += U"NJ";
        break;
      case 0x01CB:
        out += U"Nj";
        break;
      case 0x01CC:
        out += U"nj";
        break;
      case 0xFB00:
        out += U"ff";
        break;
      case 0xFB01:
        out += U"fi";
        break;
      case 0xFB02:
        out += U"fl";
        break;
      case 0xFB03:
        out += U"ffi";
        break;
      case 0xFB04:
        out += U"ffl";
        break;
      case 0xFB05:
        out += U"\u017Ft";
        break;
      case 0xFB06:
        out += U"st";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Fullwidth and halfwidth forms (U+FF01-U+FFEF) to their NFKC equivalents,
// and U+3000 IDEOGRAPHIC SPACE to a space.
U32 FixCharacterWidth(const U32& text) {
  bool any = false;
  for (char32_t c : text) {
    if (c == 0x3000 || (c >= 0xFF01 && c <= 0xFFEF)) {
      any = true;
      break;
    }
  }
  const icu::Normalizer2* nfkc = NfkcInstance();
  if (!any || nfkc == nullptr) return text;
  U32 out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c == 0x3000) {
      out.push_back(U' ');
    } else if (c >= 0xFF01 && c <= 0xFFEF) {
      UErrorCode status = U_ZERO_ERROR;
      icu::UnicodeString folded =
          nfkc->normalize(icu::UnicodeString(static_cast<UChar32>(c)), status);
      if (U_SUCCESS(status)) {
        out += FromIcu(folded);
      } else {
        out.push_back(c);
      }
    } else {
      out.push_back(c);
    }
  }
  return out;
}

U32 UncurlQuotes(const U32& text) {
  U32 out = text;
  for (char32_t& c : out) {
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) {
      c = U'\'';
    } else if (c >= 0x201C && c <= 0x201F) {
      c = U'"';
    }
  }
  return out;
}

U32 FixLineBreaks(const U32& text) {
  U32 out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char32_t c = text[i];
    if (c == U'\r') {
      if (i + 1 < text.size() && text[i + 1] == U'\n') ++i;
      out.push_back(U'\n');
    } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
      out.push_back(U'\n');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// "\033[" (digit | ';')* letter, the ANSI terminal escapes.
U32 RemoveTerminalEscapes(const U32& text) {
  if (text.find(U'\033') == U32::npos) return text;
  U32 out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == U'\033' && i + 1 < text.size() && text[i + 1] == U'[') {
      size_t k = i + 2;
      while (k < text.size() &&
             (text[k] == U';' || u_charType(static_cast<UChar32>(text[k])) ==
                                     U_DECIMAL_DIGIT_NUMBER)) {
        ++k;
      }
      if (k < text.size() && ((text[k] >= U'a' && text[k] <= U'z') ||
                              (text[k] >= U'A' && text[k] <= U'Z'))) {
        i = k + 1;
        continue;
      }
    }
    out.push_back(text[i++]);
  }
  return out;
}

bool IsRemovedControl(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
         (c >= 0x206A && c <= 0x206F) || c == 0xFEFF ||
         (c >= 0xFFF9 && c <= 0xFFFC);
}

U32 RemoveControlChars(const U32& text) {
  U32 out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (!IsRemovedControl(c)) out.push_back(c);
  }
  return out;
}

// ftfy.fix_and_explain for one segment, repeated until nothing changes.
U32 FixSegment(U32 text, bool unescape_html) {
  for (int iteration = 0; iteration < 32; ++iteration) {
    const U32 original = text;
    if (unescape_html) text = FixerUnescapeHtml(text);
    text = FixEncoding(std::move(text));
    text = FixC1Controls(text);
    text = FixLatinLigatures(text);
    text = FixCharacterWidth(text);
    text = UncurlQuotes(text);
    text = FixLineBreaks(text);
    // fix_surrogates has nothing to do: decoded UTF-8 holds no surrogates.
    text = RemoveTerminalEscapes(text);
    text = RemoveControlChars(text);
    text = Nfc(text);
    if (text == original) break;
  }
  return text;
}

constexpr size_t kMaxDecodeLength = 1000000;

U32 FixTextU32(const U32& text) {
  bool unescape_html = true;  // ftfy's "auto"
  U32 out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t newline = text.find(U'\n', pos);
    size_t end = newline == U32::npos ? text.size() : newline + 1;
    if (end - pos > kMaxDecodeLength) end = pos + kMaxDecodeLength;
    U32 segment = text.substr(pos, end - pos);
    if (unescape_html && segment.find(U'<') != U32::npos) {
      unescape_html = false;  // stays off for the following segments
    }
    out += FixSegment(std::move(segment), unescape_html);
    pos = end;
  }
  return out;
}

U32 CollapseWhitespaceU32(const U32& text) {
  U32 out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char32_t c : text) {
    if (IsSpace(static_cast<UChar32>(c))) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(U' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// Matches `literal` (ASCII, lower case) at `pos` under simple case folding;
// returns the end offset or 0.
size_t MatchFolded(absl::string_view text, size_t pos,
                   absl::string_view literal) {
  for (char want : literal) {
    if (pos >= text.size()) return 0;
    UChar32 c;
    int32_t i = static_cast<int32_t>(pos);
    U8_NEXT(text.data(), i, static_cast<int32_t>(text.size()), c);
    if (c < 0 || u_foldCase(c, U_FOLD_CASE_DEFAULT) !=
                     static_cast<UChar32>(static_cast<unsigned char>(want))) {
      return 0;
    }
    pos = static_cast<size_t>(i);
  }
  return pos;
}

enum class CharClass { kSpace, kLetter, kNumber, kOther };

CharClass Classify(UChar32 c) {
  if (c < 0) return CharClass::kOther;
  if (c < 0x80) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      return CharClass::kLetter;
    }
    if (c >= '0' && c <= '9') return CharClass::kNumber;
  }
  if (IsSpace(c)) return CharClass::kSpace;
  if (IsLetter(c)) return CharClass::kLetter;
  if (IsNumber(c)) return CharClass::kNumber;
  return CharClass::kOther;
}

}  // namespace

std::u32string DecodeUtf8(absl::string_view utf8) {
  U32 out;
  out.reserve(utf8.size());
  size_t pos = 0;
  while (pos < utf8.size()) {
    int32_t c = NextCodePoint(utf8, &pos);
    out.push_back(c < 0 ? kReplacementChar : static_cast<char32_t>(c));
  }
  return out;
}

std::string EncodeUtf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      if (c >= 0xD800 && c <= 0xDFFF) c = kReplacementChar;
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c <= 0x10FFFF) {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out += "\xEF\xBF\xBD";
    }
  }
  return out;
}

std::string FixText(absl::string_view text) {
  return EncodeUtf8(FixTextU32(DecodeUtf8(text)));
}

std::string HtmlUnescape(absl::string_view text) {
  return EncodeUtf8(HtmlUnescapeU32(DecodeUtf8(text)));
}

std::string CollapseWhitespace(absl::string_view text) {
  return EncodeUtf8(CollapseWhitespaceU32(DecodeUtf8(text)));
}

std::string ToLowerUnicode(absl::string_view text) {
  bool ascii = true;
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    std::string out(text.data(), text.size());
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
  }
  icu::UnicodeString s = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  s.toLower(icu::Locale::getRoot());
  std::string out;
  s.toUTF8String(out);
  return out;
}

std::string CleanText(absl::string_view text) {
  U32 fixed = FixTextU32(DecodeUtf8(text));
  U32 unescaped = HtmlUnescapeU32(HtmlUnescapeU32(fixed));
  return ToLowerUnicode(EncodeUtf8(CollapseWhitespaceU32(unescaped)));
}

std::vector<absl::string_view> PreTokenize(absl::string_view cleaned) {
  std::vector<absl::string_view> pieces;
  const int32_t n = static_cast<int32_t>(cleaned.size());
  const char* data = cleaned.data();
  int32_t pos = 0;
  while (pos < n) {
    const size_t start = static_cast<size_t>(pos);
    // Special tokens, then contractions, in the regex's order.
    size_t end = 0;
    if (data[pos] == '<') {
      end = MatchFolded(cleaned, start, "<|startoftext|>");
      if (end == 0) end = MatchFolded(cleaned, start, "<|endoftext|>");
    } else if (data[pos] == '\'') {
      for (absl::string_view suffix : {"s", "t", "re", "ve", "m", "ll", "d"}) {
        end = MatchFolded(cleaned, start + 1, suffix);
        if (end != 0) break;
      }
    }
    if (end != 0) {
      pieces.push_back(cleaned.substr(start, end - start));
      pos = static_cast<int32_t>(end);
      continue;
    }
    UChar32 c;
    int32_t next = pos;
    U8_NEXT(data, next, n, c);
    const CharClass cls = Classify(c);
    if (cls == CharClass::kSpace) {
      pos = next;
      continue;
    }
    if (cls == CharClass::kNumber) {
      pieces.push_back(
          cleaned.substr(start, static_cast<size_t>(next) - start));
      pos = next;
      continue;
    }
    // A run of letters, or a run of "other" characters.
    int32_t run_end = next;
    while (run_end < n) {
      int32_t after = run_end;
      UChar32 d;
      U8_NEXT(data, after, n, d);
      if (Classify(d) != cls) break;
      run_end = after;
    }
    pieces.push_back(
        cleaned.substr(start, static_cast<size_t>(run_end) - start));
    pos = run_end;
  }
  return pieces;
}

}  // namespace clip
