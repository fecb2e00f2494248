// The named character references and Python's html.unescape, on code
// points.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "clip/text_clean_internal.h"

namespace clip {
namespace text_clean_internal {
namespace {

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

}  // namespace

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

const char32_t* LookupFixerEntity(std::string_view name) {
  return LookupEntity(std::begin(kFixerEntities), std::end(kFixerEntities),
                      name);
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

}  // namespace text_clean_internal
}  // namespace clip
