// External scanner of tree-sitter-isf: the first name of a unit.
//
// A unit follows its number on the same line, with only blanks between, and is not a keyword
// (`2 mV` is a quantity; `if x then 2 else 3` is not `2 else`). Regular expressions cannot say
// "not a keyword" or "not across a newline" while whitespace is an extra, so this is done here.

#include "tree_sitter/parser.h"
#include <stdbool.h>
#include <string.h>

enum TokenType { UNIT_FIRST, ERROR_SENTINEL };

// Must equal grammar/keywords.txt (tests/syntax/editor_keywords.rs checks it).
static const char *const KEYWORDS[] = {
    "import", "as", "let", "neuron", "network", "experiment", "mechanism", "if", "then",
    "else", "in", "by", "true", "false", "and", "or", "not",
};

void *tree_sitter_isf_external_scanner_create(void) { return NULL; }
void tree_sitter_isf_external_scanner_destroy(void *payload) { (void)payload; }
unsigned tree_sitter_isf_external_scanner_serialize(void *payload, char *buffer) {
  (void)payload;
  (void)buffer;
  return 0;
}
void tree_sitter_isf_external_scanner_deserialize(void *payload, const char *buffer,
                                                  unsigned length) {
  (void)payload;
  (void)buffer;
  (void)length;
}

static bool is_name_start(int32_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == 0xB5 ||
         c == 0x3BC || c == 0x3A9;
}

static bool is_name_char(int32_t c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

bool tree_sitter_isf_external_scanner_scan(void *payload, TSLexer *lexer,
                                           const bool *valid_symbols) {
  (void)payload;
  if (valid_symbols[ERROR_SENTINEL] || !valid_symbols[UNIT_FIRST]) return false;
  while (lexer->lookahead == ' ' || lexer->lookahead == '\t') lexer->advance(lexer, true);
  if (!is_name_start(lexer->lookahead)) return false;
  char word[16];
  unsigned n = 0;
  while (is_name_char(lexer->lookahead)) {
    if (n < sizeof word - 1) word[n] = lexer->lookahead < 128 ? (char)lexer->lookahead : '?';
    n++;
    lexer->advance(lexer, false);
  }
  if (n < sizeof word) {
    word[n] = '\0';
    for (unsigned i = 0; i < sizeof KEYWORDS / sizeof KEYWORDS[0]; i++) {
      if (strcmp(word, KEYWORDS[i]) == 0) return false;
    }
  }
  lexer->result_symbol = UNIT_FIRST;
  return true;
}
