au BufRead,BufNewFile *.isf setfiletype isf
