DROP TABLE durability_marks;
