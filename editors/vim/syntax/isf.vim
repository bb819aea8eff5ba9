" Vim syntax file for isf (In Silico Framework scripts).
" The keyword lists must equal grammar/keywords.txt (checked by tests/syntax/editor_keywords.rs).

if exists("b:current_syntax")
  finish
endif

syn keyword isfKeyword import as let neuron network experiment mechanism if then else in by
syn keyword isfLogical and or not
syn keyword isfBoolean true false

" Contextual words are keywords only at the start of a block entry.
syn match isfContextual /\v(^|[{,])\s*\zs<(parameter|state|current|assigned|constant|derivative)>\ze\s+\h/

syn match isfDeclName /\v<(neuron|network|experiment|mechanism)\s+\zs\h\w*/
syn match isfFunction /\v<\h\w*\ze\s*\(/

" A unit follows its number on the same line and is not a keyword: 100 ohm*cm, 2 m^-2.
syn match isfNumber /\v<\d+(\.\d+)?([eE][+-]?\d+)?/ nextgroup=isfUnit skipwhite
syn match isfUnit /\v(<(import|as|let|neuron|network|experiment|mechanism|if|then|else|in|by|true|false|and|or|not)>)@!\h\w*(\^-?\d+)?([*/]\h\w*(\^-?\d+)?)*/ contained

syn region isfString start=/"/ skip=/\\./ end=/"\|$/ contains=isfEscape oneline
syn match isfEscape /\v\\([\"\\ntr0]|u\{\x+\})/ contained

syn match isfOperator /\v\.\.|\=\=|!\=|\<\=|\>\=|[=<>+\-*/^]/
syn keyword isfTodo TODO FIXME XXX NOTE contained
syn match isfLineComment "//.*$" contains=isfTodo
syn region isfBlockComment start="/\*" end="\*/" contains=isfTodo

hi def link isfKeyword Keyword
hi def link isfLogical Operator
hi def link isfBoolean Boolean
hi def link isfContextual Statement
hi def link isfDeclName Type
hi def link isfFunction Function
hi def link isfNumber Number
hi def link isfUnit Special
hi def link isfString String
hi def link isfEscape SpecialChar
hi def link isfOperator Operator
hi def link isfTodo Todo
hi def link isfLineComment Comment
hi def link isfBlockComment Comment

let b:current_syntax = "isf"
